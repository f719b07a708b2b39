package dev.caravan; public class Caravan { public static void main(String[] a){} }
