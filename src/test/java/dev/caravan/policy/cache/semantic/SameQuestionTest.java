package dev.caravan.policy.cache.semantic;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SameQuestionTest {

    // ---------------------------------------------------------------------------------------------- the same

    @Test
    void politenessAndRequestFramingDoNotChangeTheQuestion() {
        assertSame("Could you please tell me how to cancel my subscription?", "How do I cancel my subscription?");
        assertSame("Hi! Quick question: can you explain what a closure is in JavaScript?",
                "What is a closure in JavaScript?");
    }

    @Test
    void contractionsAreTheWordsTheyStandFor() {
        assertSame("Why doesn't my build start?", "Why does my build not start?");
        assertSame("What's the boiling point of water?", "What is the boiling point of water?");
        assertSame("I can't log in to my account", "I cannot log into my account");
    }

    @Test
    void aMovedPhraseIsTheSameQuestion() {
        assertSame("How do I reverse a string in Python?", "In Python, how do I reverse a string?");
        assertSame("What is France's national dish?", "What is the national dish of France?");
    }

    @Test
    void inflectionsAndCaseDoNotMatter() {
        assertSame("How do I convert a string to an integer in Java?", "how do i convert strings to integers in java");
        assertSame("Can children take ibuprofen?", "Can a child take ibuprofen?");
    }

    @Test
    void wordsOfOneGeneralSynonymSetMatch() {
        assertSame("How do I remove duplicates from a list?", "How can I delete duplicates from a list?");
        assertSame("How do I turn on notifications?", "How do I enable notifications?");
        assertSame("What's the biggest lake in Canada?", "What is the largest lake in Canada?");
    }

    @Test
    void writtenNumbersAreTheirDigits() {
        assertSame("How many grams are in 2 cups of flour?", "How many grams are in two cups of flour?");
        assertSame("What is the square root of 144?", "What is the square root of one hundred forty-four?");
        assertSame("What is one third of 90?", "What is 1/3 of 90?");
        assertSame("What is 15% of $2,400?", "What is 15 percent of 2400 dollars?");
    }

    // ---------------------------------------------------------------------------------------------- not the same

    @Test
    void aDifferentNumberIsNotTheSameQuestion() {
        assertNotSame("How do I round to 2 decimal places?", "How do I round to 3 decimal places?", "number");
        assertNotSame("How do I upgrade from Python 3.8 to 3.10?", "How do I upgrade from Python 3.8 to 3.1?",
                "number");
        assertNotSame("What is one third of 90?", "What is two thirds of 90?", "number");
    }

    @Test
    void numbersCompareAsMultisets() {
        assertNotSame("Is 2 plus 2 plus 3 equal to 7?", "Is 2 plus 3 plus 3 equal to 7?", "number");
    }

    @Test
    void aDifferentUnitOrCurrencyIsNotTheSameQuestion() {
        assertNotSame("Is the hike 10 miles long?", "Is the hike 10 km long?", "unit");
        assertNotSame("How do I convert 500 dollars to yen?", "How do I convert 500 euros to yen?", "unit");
        assertNotSame("Limit the container to 512MB", "Limit the container to 512 GB", "unit");
    }

    @Test
    void aNegatedQuestionIsNotTheSameQuestion() {
        assertNotSame("Why is my container restarting?", "Why isn't my container restarting?", "negation");
        assertNotSame("Can I record a call with consent?", "Can I record a call without consent?", "negation");
        assertNotSame("Which vegetables can be eaten raw?", "Which vegetables cannot be eaten raw?", "negation");
    }

    @Test
    void anotherTenseIsNotTheSameQuestion() {
        assertNotSame("Who was the president of France?", "Who is the president of France?", "tense");
        assertNotSame("Did the package ship?", "Will the package ship?", "tense");
        assertSame("Do I need a lawyer to write a will?", "Do I need an attorney to write a will?");
    }

    @Test
    void askingWhetherOneMayIsNotAskingWhetherOneShould() {
        assertNotSame("Can I take ibuprofen with coffee?", "Should I take ibuprofen with coffee?", "modality");
        assertSame("Can I freeze cooked rice?", "Quick question, can I freeze cooked rice?");
    }

    @Test
    void anAntonymIsNotTheSameQuestion() {
        assertNotSame("How do I enable 2FA?", "How do I disable 2FA?", "antonym");
        assertNotSame("How do I turn on 2FA?", "How do I turn off 2FA?", "antonym");
        assertNotSame("Should I stretch before a run?", "Should I stretch after a run?", "antonym");
        assertNotSame("How do I encrypt a file?", "How do I decrypt a file?", "antonym");
    }

    @Test
    void aPrefixedOppositeIsNotTheSameQuestion() {
        assertNotSame("How do I mount a drive?", "How do I unmount a drive?", "antonym");
        assertNotSame("Is paid leave in the contract?", "Is unpaid leave in the contract?", "antonym");
    }

    @Test
    void anotherProgrammingLanguageIsNotTheSameQuestion() {
        assertNotSame("How do I parse JSON in C#?", "How do I parse JSON in C++?", "entity");
        assertNotSame("How do I print to the console in C?", "How do I print to the console in C#?", "entity");
        assertNotSame("How do I read a file in Go?", "How do I read a file in Rust?", "entity");
    }

    @Test
    void anotherNamedEntityIsNotTheSameQuestion() {
        assertNotSame("What is the capital of Australia?", "What is the capital of Austria?", "entity");
        assertNotSame("What's the statute of limitations in New York?",
                "What's the statute of limitations in New Jersey?", "entity");
        assertNotSame("Who founded Acme Robotics?", "Who founded Globex Robotics?", "entity");
    }

    @Test
    void aCommonWordIsANameOnlyWithItsCapital() {
        assertNotSame("What's the weather like in Lisbon in May?", "What's the weather like in Lisbon?", "entity");
        assertSame("May I bring a dog into the hotel?", "Can I bring a dog into the hotel?");
    }

    @Test
    void aDifferentIdentifierIsNotTheSameQuestion() {
        assertNotSame("How do I use useEffect in React?", "How do I use useState in React?", "identifier");
        assertNotSame("What does os.path.join do?", "What does os.path.split do?", "identifier");
        assertNotSame("What does git rebase -i do?", "What does git rebase --onto do?", "identifier");
    }

    @Test
    void anotherOperatorIsNotTheSameQuestion() {
        assertNotSame("Solve x + 5 = 20", "Solve x - 5 = 20", "operator");
    }

    @Test
    void aSubstitutedContentWordIsNotTheSameQuestion() {
        assertNotSame("How do I change my password?", "How do I change my username?", "content word");
        assertNotSame("Can I freeze cooked rice?", "Can I freeze cooked pasta?", "content word");
    }

    @Test
    void aSynonymMissingFromTheLexiconIsAMissNotAGuess() {
        assertNotSame("How can I make my script run faster?", "How do I speed up my script?", "content word");
    }

    @Test
    void aChoiceIsNotAConjunction() {
        assertNotSame("Should I invest in stocks or bonds?", "Should I invest in stocks and bonds?", "content word");
    }

    @Test
    void anotherQuestionWordIsNotTheSameQuestion() {
        assertNotSame("Why do cats purr?", "How do cats purr?", "content word");
        assertNotSame("Where can I download my invoice?", "When can I download my invoice?", "content word");
    }

    @Test
    void swappedRolesAreNotTheSameQuestion() {
        assertNotSame("Did Spain beat Italy in 2012?", "In 2012, did Italy beat Spain?", "roles");
        assertNotSame("Can a landlord sue a tenant?", "Can a tenant sue a landlord?", "roles");
        assertNotSame("How do I convert a string to an integer?", "How do I convert an integer to a string?",
                "roles");
        assertNotSame("How long is the flight from London to New York?",
                "How long is the flight from New York to London?", "roles");
        assertNotSame("What is 12 divided by 4?", "What is 4 divided by 12?", "roles");
    }

    @Test
    void aModifierMovedAcrossARelationWordKeepsTheRoles() {
        assertSame("How do I remove duplicates from a list in Python?",
                "How do I remove duplicates from a Python list?");
        assertSame("How long is the train from Paris to Lyon?", "How long is the train to Lyon from Paris?");
    }

    // ---------------------------------------------------------------------------------------------- refusals

    @Test
    void promptsWithNothingToCompareAreNotTheSameQuestion() {
        assertNotSame("Hi!", "Hello", "nothing to compare");
    }

    @Test
    void aPromptOverTheLimitIsRefused() {
        String long1 = "Explain this log line: " + "x".repeat(SemanticIndex.MAX_PROMPT_CHARS);
        assertNotSame(long1, long1, "too long");
    }

    @Test
    void textInAnotherScriptMustMatchAsWritten() {
        assertSame("如何重置密码？", "如何重置密码");
        assertNotSame("如何重置密码？", "如何更改密码？", "content word");
    }

    @Test
    void theVerdictOfTheSameQuestionSaysHowManyTermsAgreed() {
        assertThat(SameQuestion.check("How do I reverse a string in Python?", "Reverse a string in Python").reason())
                .isEqualTo("same: 3 terms agree");
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private static void assertSame(String a, String b) {
        assertThat(SameQuestion.check(a, b)).as(a + " / " + b).extracting(SameQuestion.Verdict::same).isEqualTo(true);
        assertThat(SameQuestion.check(b, a).same()).as(b + " / " + a).isTrue();
    }

    private static void assertNotSame(String a, String b, String reason) {
        for (String[] pair : new String[][]{{a, b}, {b, a}}) {
            SameQuestion.Verdict v = SameQuestion.check(pair[0], pair[1]);
            assertThat(v.same()).as(pair[0] + " / " + pair[1] + ": " + v.reason()).isFalse();
            assertThat(v.reason()).as(pair[0] + " / " + pair[1]).startsWith(reason);
        }
    }
}
