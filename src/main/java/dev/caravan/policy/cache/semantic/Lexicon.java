package dev.caravan.policy.cache.semantic;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The word lists {@link SameQuestion} reads: general-purpose English and general computing vocabulary, as a
 * thesaurus or a style guide would list them, not tuned to any prompt. Written after the evaluation data, by the
 * same hand, so read the evaluation with that in mind: 23 of the 81 synonym sets bridge two words of some
 * evaluation pair, the other 58 none, and no phrase exists for one pair ("what is the command to" would have
 * rescued one; it is not here). Near-synonyms that part in a common sense are left out even where the data
 * wanted them (fix/resolve: a DNS name is resolved, not fixed; stop/terminate: a stopped cloud instance is not a
 * terminated one; join/concatenate; get/find; update/upgrade), because a missing synonym costs a cache miss and a
 * wrong one a wrong answer. Immutable after class initialisation.
 */
final class Lexicon {

    private Lexicon() {
    }

    /**
     * Function words, which carry no question of their own. Not here: directional ones (from, up/down, out), and
     * "or", since "stocks or bonds" is a choice and "stocks and bonds" is not.
     */
    static final Set<String> STOP = words("""
            a an the this that these those there here i me my mine myself you your yours yourself we us our ours
            he him his she her hers it its itself they them their theirs someone somebody anyone anybody
            is am are was were be been being do does did done doing have has had having
            can could would should will shall may might must ought
            of in on at for with about as via using and but so if whether then just very really actually
            basically simply even still what which whatever some any anything something etc e.g i.e
            please pls plz kindly thanks thank hi hello hey dear ok okay
            possible possibly able let lets also too exactly
            """);

    /** Words that frame a request rather than say what is asked ("explain", "tell"): removed like stop words. */
    static final Set<String> FILLER = words("""
            explain describe tell curious wondering wonder question
            """);

    /**
     * Multi-word phrases, longest first when they overlap: each becomes the token on the right, or nothing when the
     * right side is empty (politeness and request framing: "can you", "how do I", "what is the best way to"; "allowed
     * to" says what "can" says). Not "I need to": "do I need to pay tax?" is not "how do I pay tax?".
     */
    static final List<String[]> PHRASES = phrases("""
            would you mind =
            would you please =
            could you please =
            can you please =
            can you tell me =
            could you tell me =
            would you tell me =
            do you know =
            i was wondering =
            i am curious =
            just curious =
            quick question =
            i have a question =
            let me know =
            show me how to =
            explain to me =
            help me =
            i need help with =
            i need help =
            i want to know =
            i would like to know =
            i would like to =
            i want to =
            i wish to =
            i am trying to =
            trying to =
            can you =
            could you =
            would you =
            will you =
            how do i =
            how can i =
            how should i =
            how would i =
            how could i =
            how do you =
            how can you =
            how does one =
            how do we =
            how can we =
            how to =
            what is the best way to =
            what is the right way to =
            what is the proper way to =
            what is the correct way to =
            what is the recommended way to =
            what is the way to =
            is there a way to =
            is there any way to =
            the best way to =
            best way to =
            is it possible to =
            is it ok to =
            is it okay to =
            for me =
            allowed to =
            permitted to =
            able to =
            in order to = to
            as well = also
            right now = now
            prior to = before
            what kind of =
            what type of =
            what sort of =
            how come = why
            for what reason = why
            what time = when
            a lot of = many
            lots of = many
            plenty of = many
            turn on = enable
            switch on = enable
            turn off = disable
            switch off = disable
            shut off = disable
            shut down = shutdown
            power off = shutdown
            log into = login
            log in to = login
            log in = login
            log on = login
            sign into = login
            sign in to = login
            sign in = login
            sign on = login
            signin = login
            log out = logout
            log off = logout
            sign out = logout
            signout = logout
            sign up = signup
            register = signup
            set up = setup
            roll back = rollback
            check in = checkin
            check out = checkout
            get rid of = remove
            figure out = find
            find out = find
            look for = search
            search for = search
            make sure = ensure
            user name = username
            e mail = email
            wi fi = wifi
            per cent = percent
            us dollar = usd
            us dollars = usd
            american dollar = usd
            american dollars = usd
            united states of america = us
            united states = us
            usa = us
            america = us
            united kingdom = uk
            great britain = uk
            britain = uk
            """);

    /** Irregular forms, mapped before the stemmer (which knows only -s, -es, -ies, -ed, -ing and -ly). */
    static final Map<String, String> IRREGULAR = pairs("""
            children child, men man, women woman, people person, feet foot, teeth tooth, mice mouse,
            ran run, went go, gone go, bought buy, sold sell, took take, taken take, made make, built build,
            began begin, begun begin, chose choose, chosen choose, wrote write, written write, gave give,
            given give, got get, gotten get, paid pay, sent send, spent spend, kept keep, found find,
            lost lose, said say, thought think, knew know, known know, saw see, seen see, came come,
            became become, felt feel, held hold, brought bring, caught catch, taught teach, fell fall,
            grew grow, grown grow, drew draw, drawn draw, drove drive, driven drive, ate eat, eaten eat,
            froze freeze, frozen freeze, broke break, broken break, spoke speak, spoken speak, stole steal,
            stolen steal, wore wear, worn wear, won win, told tell, sat sit, stood stand,
            understood understand, met meet, led lead, fed feed, hid hide, hidden hide, rose rise, risen rise,
            shook shake, woke wake, flew fly, flown fly, threw throw, thrown throw, slept sleep, sang sing,
            sung sing, swam swim, goes go, beaten beat, forgot forget, forgotten forget, bit bite, bitten bite,
            hung hang, sought seek, sank sink, sunk sink, shot shoot, fought fight, bent bend, lent lend,
            meant mean, dealt deal, overslept oversleep
            """);

    /** Abbreviations and alternative spellings of general computing words. */
    static final Map<String, String> ALIASES = pairs("""
            dict dictionary, dicts dictionary, env environment, repo repository, repos repository,
            db database, dbs database, dir directory, dirs directory, func function, funcs function,
            var variable, vars variable, str string, int integer, ints integer, arg argument, args argument,
            param parameter, params parameter, info information, app application, apps application,
            pic picture, pics picture, config configuration, configs configuration, pc computer,
            cellphone phone, smartphone phone,
            js javascript, ts typescript, py python, golang go, postgres postgresql, psql postgresql,
            mongo mongodb, cpp c++, csharp c#, nodejs node.js, k8s kubernetes, osx macos,
            gcp google_cloud, u.s us, u.k uk
            """);

    /**
     * Synonym sets of general English (and general computing) usage, one set a line; a word matches any word of
     * its set. Comparative and superlative forms are listed with their bases (the stemmer leaves -er and -est
     * alone, since "cheap" and "cheapest" ask different things).
     */
    static final List<List<String>> SYNONYMS = lines("""
            make create
            fix repair
            remove delete erase
            start begin commence
            stop halt
            kill terminate
            finish complete
            show display
            view see
            big large
            bigger larger
            biggest largest
            small little
            fast quick rapid speedy
            faster quicker
            fastest quickest
            cheap inexpensive affordable
            cheaper
            expensive costly pricey
            buy purchase
            price cost
            get obtain receive
            find locate
            change modify alter edit
            use utilize
            need require
            want wish desire
            help assist
            choose select pick
            correct accurate
            wrong incorrect
            issue problem trouble
            car automobile
            doctor physician
            medicine medication
            child kid
            trip journey
            booking reservation
            book reserve
            photo picture image
            movie film
            answer reply response
            folder directory
            application app
            computer pc
            website site
            restart reboot
            calculate compute
            mean average
            iterate loop
            merge combine
            concatenate concat
            check verify
            often frequently
            usually normally typically
            maybe perhaps
            enough sufficient
            allow permit
            talk speak
            happy glad
            smart intelligent clever
            differ different difference
            each every per
            many numerous
            now currently presently
            request ask
            setup configure configuration
            illness sickness
            sick ill
            employee worker
            manager boss supervisor
            company firm
            lawyer attorney
            legal lawful
            quit resign
            fire dismiss
            vacation holiday
            baby infant
            teen teenager adolescent
            country nation
            invoice bill
            """);

    /** Pairs of opposites (general English); a word on one side whose opposite is on the other is a miss. */
    static final List<List<String>> ANTONYMS = lines("""
            enable disable
            activate deactivate
            increase decrease
            raise lower
            rise fall
            grow shrink
            before after
            earlier later
            early late
            min max
            minimum maximum
            minimize maximize
            encrypt decrypt
            encode decode
            compress decompress
            import export
            upload download
            buy sell
            buyer seller
            add remove
            add subtract
            plus minus
            multiply divide
            open close
            start stop
            start finish
            begin end
            push pull
            win lose
            gain lose
            accept reject
            accept decline
            accept refuse
            approve reject
            approve deny
            allow deny
            allow block
            allow forbid
            permit forbid
            include exclude
            inclusive exclusive
            install uninstall
            lock unlock
            connect disconnect
            mount unmount
            attach detach
            subscribe unsubscribe
            follow unfollow
            freeze thaw
            freeze melt
            serialize deserialize
            ascending descending
            asc desc
            above below
            over under
            up down
            upstream downstream
            upgrade downgrade
            inside outside
            enter exit
            entrance exit
            login logout
            checkin checkout
            arrive depart
            arrival departure
            inbound outbound
            incoming outgoing
            left right
            first last
            top bottom
            front back
            forward backward
            previous next
            upper lower
            uppercase lowercase
            high low
            higher lower
            highest lowest
            more less
            more fewer
            most least
            good bad
            better worse
            best worst
            big small
            bigger smaller
            biggest smallest
            large small
            larger smaller
            largest smallest
            long short
            longer shorter
            longest shortest
            tall short
            fast slow
            faster slower
            fastest slowest
            hot cold
            warm cool
            heat cool
            heating cooling
            cheap expensive
            cheaper dearer
            new old
            newer older
            newest oldest
            young old
            true false
            valid invalid
            public private
            input output
            read write
            reader writer
            send receive
            sender recipient
            lend borrow
            credit debit
            deposit withdraw
            income expense
            profit loss
            north south
            east west
            northern southern
            eastern western
            male female
            man woman
            boy girl
            husband wife
            mother father
            son daughter
            brother sister
            positive negative
            success failure
            succeed fail
            pass fail
            safe dangerous
            legal illegal
            hire fire
            employer employee
            landlord tenant
            client server
            parent child
            past future
            yesterday tomorrow
            morning evening
            day night
            sunrise sunset
            summer winter
            wet dry
            light dark
            heavy light
            full empty
            raw cook
            hard soft
            thick thin
            wide narrow
            deep shallow
            strong weak
            internal external
            local remote
            global local
            online offline
            sync async
            synchronous asynchronous
            static dynamic
            absolute relative
            explicit implicit
            mutable immutable
            horizontal vertical
            row column
            show hide
            visible hide
            expand collapse
            merge split
            inhale exhale
            near far
            nearest farthest
            closest farthest
            closer farther
            nearer farther
            same different
            similar different
            since until
            appear disappear
            like dislike
            agree disagree
            rich poor
            urban rural
            domestic international
            ascend descend
            offense defense
            attack defend
            victory defeat
            winner loser
            """);

    /** Prefixes that turn a word into its opposite: "mount"/"unmount", "legal"/"illegal", "paid"/"unpaid". */
    static final List<String> NEGATING_PREFIXES = List.of("un", "dis", "non", "in", "im", "il", "ir", "de", "anti");

    /** Words that negate (after contractions are expanded: "doesn't" is "does not"). */
    static final Set<String> NEGATIONS = words("""
            not no never none nobody nothing nowhere neither nor without non unable
            """);

    /**
     * Relation words whose next term says who does what to whom: "convert X to Y", "faster than Y", "divided by Y".
     * Followed in the order checks, not counted as content (most are also infinitive or filler uses).
     */
    static final Set<String> RELATIONS = words("to into from than by vs versus");

    /** Question words that change what is asked ("why" is not "how"); "what" and "which" are stop words. */
    static final Set<String> QUESTION_WORDS = words("why how when where who whom whose");

    /**
     * Named things matched whatever their case: programming languages, tools, platforms, products, companies,
     * places (countries, large cities, US states, continents) and months and weekdays. Multi-word names are
     * joined with "_". Ambiguous with a common word, so an entity only when capitalised: see {@link #CASED_ENTITIES}.
     */
    static final Set<String> ENTITIES = words("""
            python java javascript typescript c++ c# f# kotlin scala haskell elixir erlang clojure php perl lua
            matlab fortran cobol zig ocaml bash zsh powershell sql html css objective-c
            vue django laravel node.js deno numpy pandas tensorflow pytorch jquery
            docker kubernetes terraform ansible jenkins git github gitlab bitbucket aws azure google_cloud heroku
            linux ubuntu debian centos redhat macos ios android iphone ipad chromebook
            firefox gmail jira mysql postgresql mongodb redis kafka nginx apache
            elasticsearch sqlite cassandra dynamodb rabbitmq graphql npm pip maven gradle conda
            google microsoft amazon netflix tesla facebook twitter instagram linkedin youtube whatsapp
            paypal stripe uber airbnb spotify mastercard
            uk eu
            afghanistan albania algeria argentina armenia australia austria azerbaijan bahamas bangladesh belarus
            belgium bolivia bosnia brazil bulgaria cambodia cameroon canada chile colombia croatia cuba cyprus
            czechia denmark ecuador egypt estonia ethiopia finland france germany ghana greece guatemala haiti
            honduras hungary iceland india indonesia iran iraq ireland israel italy jamaica japan kazakhstan kenya
            korea kuwait laos latvia lebanon libya lithuania luxembourg madagascar malaysia mali malta mexico
            moldova monaco mongolia montenegro morocco mozambique myanmar nepal netherlands nicaragua niger
            nigeria norway oman pakistan panama paraguay peru philippines poland portugal qatar romania russia
            rwanda senegal serbia singapore slovakia slovenia somalia spain sudan sweden switzerland syria taiwan
            tanzania thailand tunisia uganda ukraine uruguay uzbekistan venezuela vietnam yemen zambia zimbabwe
            new_zealand south_africa south_korea north_korea saudi_arabia costa_rica puerto_rico sri_lanka
            united_arab_emirates dominican_republic czech_republic
            africa asia europe antarctica oceania north_america south_america latin_america middle_east
            london paris berlin madrid rome lisbon dublin amsterdam brussels vienna prague budapest warsaw
            stockholm oslo copenhagen helsinki athens istanbul moscow kyiv cairo lagos nairobi johannesburg
            dubai mumbai delhi bangalore beijing shanghai tokyo osaka seoul bangkok singapore jakarta manila
            sydney melbourne toronto vancouver montreal chicago boston seattle denver houston dallas austin
            miami atlanta phoenix barcelona munich frankfurt zurich geneva milan venice florence lyon marseille
            edinburgh manchester brighton new_york los_angeles san_francisco las_vegas hong_kong mexico_city
            rio_de_janeiro sao_paulo buenos_aires tel_aviv abu_dhabi washington
            alabama alaska arizona arkansas california colorado connecticut delaware florida hawaii idaho
            illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota
            mississippi missouri montana nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah
            vermont virginia wisconsin wyoming new_jersey new_mexico new_hampshire rhode_island north_carolina
            south_carolina north_dakota south_dakota west_virginia
            january february april june july september october november december
            monday tuesday wednesday thursday friday saturday sunday
            mercury venus mars jupiter saturn uranus neptune pluto
            """);

    /** Entities only when written with a capital: each is also a common word ("go", "rust", "may", "turkey"). */
    static final Set<String> CASED_ENTITIES = words("""
            us go rust swift ruby dart julia r c java shell spring flask express react angular rails groovy word
            teams zoom slack chrome edge office windows apple oracle excel outlook safari fedora alpine yarn meta
            visa confluence turkey china jordan chad georgia nice reading bath may march august
            """);

    /** Multi-word entity names, as lower-case words: joined into one token before anything else. */
    static final List<String[]> ENTITY_PHRASES = ENTITIES.stream().filter(e -> e.contains("_")).sorted()
            .map(e -> e.split("_")).sorted((x, y) -> y.length - x.length).toList();

    /**
     * Units and currencies, spelling to canonical name. {@link #UNITS_AFTER_NUMBER} lists the spellings that are
     * units only right after a number ("5 m", "10 am", "30 s"), being common words or letters elsewhere.
     */
    static final Map<String, String> UNITS = pairs("""
            km km, kms km, kilometer km, kilometers km, kilometre km, kilometres km,
            mi mile, mile mile, miles mile, m m, meter m, meters m, metre m, metres m,
            cm cm, centimeter cm, centimeters cm, centimetre cm, centimetres cm,
            mm mm, millimeter mm, millimeters mm, millimetre mm, millimetres mm,
            ft ft, foot ft, feet ft, in in, inch in, inches in, yd yd, yard yd, yards yd,
            kg kg, kgs kg, kilo kg, kilos kg, kilogram kg, kilograms kg, g g, gram g, grams g,
            mg mg, milligram mg, milligrams mg, lb lb, lbs lb, pound lb, pounds lb, oz oz, ounce oz, ounces oz,
            l l, liter l, liters l, litre l, litres l, ml ml, milliliter ml, milliliters ml, millilitre ml,
            millilitres ml, gal gal, gallon gal, gallons gal, cup cup, cups cup,
            tbsp tbsp, tablespoon tbsp, tablespoons tbsp, tsp tsp, teaspoon tsp, teaspoons tsp,
            c celsius, °c celsius, celsius celsius, centigrade celsius, f fahrenheit, °f fahrenheit,
            fahrenheit fahrenheit, kelvin kelvin, degree degree, degrees degree, ° degree,
            % percent, percent percent, percentage percent,
            b byte, byte byte, bytes byte, kb kb, kilobyte kb, kilobytes kb, mb mb, megabyte mb, megabytes mb,
            gb gb, gigabyte gb, gigabytes gb, tb tb, terabyte tb, terabytes tb, kib kib, mib mib, gib gib,
            kbps kbps, mbps mbps, gbps gbps, hz hz, khz khz, mhz mhz, ghz ghz,
            ms ms, millisecond ms, milliseconds ms, s s, sec s, secs s, second s, seconds s,
            min min, mins min, minute min, minutes min, h h, hr h, hrs h, hour h, hours h,
            day day, days day, week week, weeks week, month month, months month, year year, years year,
            am am, pm pm,
            $ usd, usd usd, dollar usd, dollars usd, buck usd, bucks usd, € eur, eur eur, euro eur, euros eur,
            £ gbp, gbp gbp, sterling gbp, ¥ jpy, jpy jpy, yen jpy, ₹ inr, inr inr, rupee inr, rupees inr,
            chf chf, franc chf, francs chf, cad cad, aud aud, cny cny, yuan cny, rmb cny, mxn mxn, peso mxn,
            pesos mxn, krw krw, won krw, btc btc, bitcoin btc, bitcoins btc
            """);

    static final Set<String> UNITS_AFTER_NUMBER = words("m in g l c f b s ms sec second min h am pm won");

    /** Number words; "dozen" is 12. Larger scales multiply what precedes them. */
    static final Map<String, Long> NUMBER_WORDS = numbers("""
            zero 0, one 1, two 2, three 3, four 4, five 5, six 6, seven 7, eight 8, nine 9, ten 10, eleven 11,
            twelve 12, thirteen 13, fourteen 14, fifteen 15, sixteen 16, seventeen 17, eighteen 18, nineteen 19,
            twenty 20, thirty 30, forty 40, fifty 50, sixty 60, seventy 70, eighty 80, ninety 90, dozen 12,
            hundred 100, thousand 1000, million 1000000, billion 1000000000, trillion 1000000000000
            """);

    /** Fraction words after a number ("two thirds", "a quarter"): the denominator. */
    static final Map<String, Long> FRACTION_WORDS = numbers("""
            half 2, halves 2, third 3, thirds 3, quarter 4, quarters 4, fourth 4, fourths 4, fifth 5, fifths 5,
            sixth 6, sixths 6, eighth 8, eighths 8, tenth 10, tenths 10
            """);

    /** Words after which "one" is a pronoun, not a number ("which one", "this one"). */
    static final Set<String> ONE_AS_PRONOUN = words("which this that the each any every no some another other");

    /** Words the stemmer must leave alone: their final -s is not a plural. */
    static final Set<String> STEM_EXCEPTIONS = words("""
            news series species physics mathematics economics always perhaps analysis basis bus gas yes thus
            plus minus status campus virus bonus canvas corpus census focus lens chaos axis iris tennis atlas
            alias bias process access address express success less unless across
            """);

    private static Set<String> words(String text) {
        Set<String> out = new HashSet<>();
        for (String w : text.trim().split("\\s+")) {
            out.add(w);
        }
        return Set.copyOf(out);
    }

    private static List<List<String>> lines(String text) {
        return text.lines().map(String::trim).filter(l -> !l.isEmpty()).map(l -> List.of(l.split("\\s+")))
                .toList();
    }

    private static List<String[]> phrases(String text) {
        return text.lines().map(String::trim).filter(l -> !l.isEmpty()).map(l -> {
            int eq = l.indexOf('=');
            String[] from = l.substring(0, eq).trim().split("\\s+");
            String to = l.substring(eq + 1).trim();
            String[] entry = new String[from.length + 1];
            System.arraycopy(from, 0, entry, 0, from.length);
            entry[from.length] = to; // the replacement last; "" removes the phrase
            return entry;
        }).sorted((x, y) -> y.length - x.length).toList();
    }

    private static Map<String, String> pairs(String text) {
        Map<String, String> out = new HashMap<>();
        for (String item : text.split(",")) {
            String[] kv = item.trim().split("\\s+");
            if (kv.length == 2) {
                out.put(kv[0], kv[1]);
            }
        }
        return Map.copyOf(out);
    }

    private static Map<String, Long> numbers(String text) {
        Map<String, Long> out = new HashMap<>();
        pairs(text).forEach((k, v) -> out.put(k, Long.parseLong(v)));
        return Map.copyOf(out);
    }
}
