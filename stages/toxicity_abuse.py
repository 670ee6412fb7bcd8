"""Abuse aimed at someone, by its shape: the `toxicity` stage's `tox_abuse` signal.

The three learnt models know the words of abuse (slurs, swearing) but not its shape: "i hope
someone runs you over", "you are a sad excuse for a human being", "these animals should be locked
up" carry no listed word, and none of them had much such text to learn from (Davidson's tweets are
mostly slurs and swearing; Jigsaw's talk pages mostly swearing). What a person means by toxic
(insults, threats, wishes of harm, dehumanising talk about a group, telling someone to go away or
die) has a small grammar: a word of abuse aimed at a target, "you", "this/that ...", a group.
Written for this project from the usual typologies of abusive language (insult, threat,
identity attack, harassment); some were added after reading the misses of comment sets that are
therefore tuning sets for them (data/toxicity/comments/README.md says which). English only, as the
models are.

`hits(words)` counts the abusive phrases in a window of words (lower case, as the word lists read
them); the stage turns them into 1 - exp(-hits * 20 / max(words, 20)) per window and the combiner
weighs their mean beside the models. A pattern is tried only on the few words around one of its
trigger words (an abuse noun or adjective, a violent verb, a word of harm): most windows have none.
"""
from __future__ import annotations

import re


def _alt(words: str) -> str:
    return "(?:" + "|".join(sorted(words.split(), key=len, reverse=True)) + ")"


# People called names. Words that are also ordinary nouns (pig, snake, joke, failure) count only
# aimed at "you"; the unmistakable ones also after "this", "what a", or an insulting adjective.
INSULTS = _alt("""
idiot idiots moron morons imbecile imbeciles cretin cretins dumbass dumbasses dimwit dimwits
halfwit halfwits nitwit nitwits loser losers clown clowns buffoon buffoons jerk jerks
slob slobs scumbag scumbags scum lowlife lowlifes degenerate degenerates troglodyte troglodytes
neanderthal neanderthals simpleton simpletons dunce dunces muppet muppets numpty pillock prat
tosser tossers douche douchebag douchebags psycho psychos hypocrite hypocrites crybaby crybabies
snowflake snowflakes subhuman subhumans bimbo bimbos incel incels manchild maggot maggots
dipshit dipshits knobhead wanker wankers twat twats airhead airheads bonehead boneheads""")
INSULTS_AIMED = _alt("""
pig pigs slug snake snakes rat rats leech leeches parasite parasites vermin sheep trash garbage
filth freak freaks creep creeps lunatic lunatics liar liars fraud frauds coward cowards failure
failures disgrace embarrassment abomination savage savages hag witch cow cows joke waste plague
cancer cockroach monkey mongrel weasel swine rodent troll trolls""")
# what a person is called; "sad", "sorry", "dirty" and the like only before an insult
ADJECTIVES = _alt("""
stupid dumb idiotic moronic brainless braindead clueless pathetic worthless useless disgusting
vile ugly repulsive incompetent ignorant retarded inbred spineless gutless pitiful trashy
delusional deranged hopeless dumbest stupidest ugliest despicable contemptible loathsome""")
ADJECTIVES_BEFORE = _alt("""
stupid dumb idiotic moronic brainless braindead clueless pathetic worthless useless disgusting
vile ugly fat repulsive miserable incompetent ignorant retarded inbred spineless gutless pitiful
trashy lazy filthy smelly stinking lying delusional deranged hopeless dumbest stupidest ugliest
sad sorry dirty gross nasty despicable contemptible loathsome little absolute total complete""")
YOU = r"(?:you|u|ya)"
YOU_ARE = r"(?:you(?:'re| are|re| r)|ur|u r|u are)"
YOUR = r"(?:your|ur|yer)"
NOT = r"(?!not |never |no |hardly )"
# a group talked about: "these people", "all muslims", "illegals"
GROUP = _alt("""
people immigrants migrants refugees illegals foreigners muslims jews christians blacks whites
gays lesbians women men girls boys liberals conservatives democrats republicans leftists
feminists trans lefties righties libtards boomers millennials fans voters arabs mexicans
asians africans indians gypsies""")
# groups by who they are (not "people", "fans", "voters"): "muslims should not be allowed"
IDENTITY = _alt("""
immigrants migrants refugees illegals foreigners muslims jews christians blacks whites gays
lesbians women men liberals conservatives democrats republicans leftists feminists trans arabs
mexicans asians africans indians gypsies""")
DEHUMANISING = _alt("""
animals savages vermin parasites rats cockroaches apes monkeys subhuman subhumans filth scum trash
garbage plague cancer disease infestation criminals terrorists rapists thieves pigs dogs
maggots leeches mongrels roaches""")
# only people are called these: "these savages should ..." (not "these animals are nocturnal")
DEHUMANISING_PEOPLE = _alt("savages subhumans scum filth degenerates lowlifes mongrels")
VIOLENT = _alt("kill murder shoot stab strangle choke punch slap hang rape torture slit hurt kick")
VIOLENT_YOU = _alt("break smash destroy end bury burn cut beat")
HARM = _alt("die dies rot rots burn burns suffer suffers choke chokes drown drowns starve")
WILL = _alt("""i'll ill i_will i'm_gonna im_gonna i_am_going_to i'm_going_to gonna we'll we_will i'd
i_would i_want_to i_wanna someone_should somebody_should someone_needs_to somebody_needs_to
someone_ought_to i'm_coming_to""").replace("_", " ")
SUBJECT = r"(?:you|u|he|she|they|them|people like (?:you|u|him|her|them|that)|(?:these|those|all|every) \w+)"

_PATTERNS = [
    # insults aimed at a person: "you idiot", "you are a sad excuse for a human being",
    # "what a clown", "this troglodyte", "your opinion is as worthless as you are"
    rf"\b{YOU}(?: {ADJECTIVES_BEFORE})? (?:{INSULTS}|{INSULTS_AIMED})\b",
    rf"\b{YOU_ARE} {NOT}(?:(?:such|so|an?|the|just|nothing "
    rf"but|really|truly|literally|one|clearly|pure|being) )*(?:{ADJECTIVES_BEFORE} "
    rf")?(?:{INSULTS}|{INSULTS_AIMED}|{ADJECTIVES}|nobody|nothing|an animal|animals)\b",
    rf"\b(?:what|such) an? (?:{ADJECTIVES_BEFORE} )?{INSULTS}\b",
    rf"\b(?:this|that|these|those) (?:{ADJECTIVES_BEFORE} )?{INSULTS}\b",
    rf"\b{ADJECTIVES_BEFORE} {INSULTS}\b",
    rf"\b{ADJECTIVES} {INSULTS_AIMED}\b",
    rf"\b(?:dumbest|stupidest|most idiotic|most retarded|most moronic) "
    rf"(?:take|comment|post|thing|idea|argument|opinion|article|question)\b",
    rf"\b(?:sad|pathetic|poor|sorry) excuse for an? "
    rf"(?:human|person|man|woman|parent|mother|father|journalist|player|being)",
    rf"\bwaste of (?:space|oxygen|skin|sperm|a human)\b",
    rf"\b(?:as|so) {ADJECTIVES} as (?:you|u) (?:are|r)\b",
    rf"\b{YOUR} (?:\w+ )?(?:is|are) {NOT}(?:as |so |just |complete |absolute |total "
    rf")?(?:stupid|dumb|idiotic|moronic|worthless|pathetic|disgusting|braindead|trash|garbage)\b",
    rf"\bhow (?:stupid|dumb|thick|ignorant|pathetic|brainless) (?:can |are )?(?:you|u)\b",
    # threats: "i'll break your face", "i will find you", "watch your back"
    rf"\b{WILL} (?:\w+ )?(?:{VIOLENT} (?:{YOU}|{YOUR}|him|her|them)|{VIOLENT_YOU} "
    rf"(?:{YOU}|{YOUR}))\b",
    rf"\b{WILL} run (?:{YOU}|him|her|them) over\b",
    rf"\b(?:i'll|i will|we'll|we will|i'm gonna|im gonna|gonna) (?:find|hunt) (?:you|u)(?: "
    rf"down)?\b(?! a | an | some| the | something| anything| another| one| out| in )",
    rf"\bmake (?:{YOU}|him|her|them) (?:pay|regret|suffer|bleed)\b",
    rf"\b(?:you'll|you will|youll|u will|you're gonna|you are going to) (?:regret this|regret "
    rf"it|be sorry|get what's coming|never work in)",
    rf"\bwatch {YOUR} back\b|\b(?:keep \w+(?: \w+)?|say that again|try me|do that again|come here) "
    rf"and see what happens\b|\bi know where (?:you|u) live\b|\bsleep with one eye open\b",
    rf"\b(?:you're|you are|ur|youre|u r) (?:so dead|dead meat|a dead man|done for|dead to me)\b",
    rf"\bteach (?:{YOU}|him|her|them|this|that) (?:\w+ )?(?:\w+ )?(?:a )?lesson\b",
    rf"\b(?:{VIOLENT}|{VIOLENT_YOU}) {YOUR} (?:face|head|teeth|skull|throat|kneecaps|jaw|nose)\b",
    rf"\b(?:put|send) (?:{YOU}|him|her|them) in (?:the|a) (?:ground|grave|hospital|morgue)\b",
    rf"\b(?:i|we) know (?:{YOUR}|where {YOU}) (?:address|live|work|school|kids|family)\b",
    rf"\bknock (?:\w+ )?(?:\w+ )?(?:grin|smile|teeth|head|block) (?:off|in|out)\b|\bteeth knocked "
    rf"(?:in|out)\b",
    # wishes of harm, telling someone to die or vanish
    rf"\bhope (?:{YOU}|he|she|they|someone|somebody|your \w+)(?: \w+)? (?:{HARM}|gets? "
    rf"(?:cancer|hit|run over|shot|raped|killed|what)|runs? (?:you|u) over|drops? dead)",
    rf"\b(?:kill|hang|shoot) (?:yourself|urself|yourselves)\b(?! in the foot)|\bkys\b|\bdrop "
    rf"dead\b|\bgo die\b|\bdie in a (?:fire|hole|ditch)\b|\b(?:rot|burn) in hell\b",
    rf"\b{SUBJECT} (?:should|ought to|deserve to|needs? to|must) be (?:shot|hanged|killed|put "
    rf"down|gassed|deported|locked up|euthanized|euthanised|castrated|exterminated|wiped "
    rf"out|sterilized|sterilised|lynched|thrown out)\b",
    rf"\b(?:you|u|he|she|they) (?:deserve|deserves) (?:to die|to suffer|to rot|every bad "
    rf"thing|what's coming|to be (?:beaten|shot|killed|hanged|raped|hurt|punched|slapped))",
    rf"\b(?:should|deserves? to|hope (?:you|u|he|she|they)) (?:get|gets) (?:cancer|aids|hit by a "
    rf"(?:car|bus|truck|train))\b",
    rf"\b(?:fired|launched|shot|thrown) into the sun\b|\bgo play (?:in|on) (?:the "
    rf")?(?:traffic|highway|freeway|motorway)\b",
    rf"\b(?:world|planet|internet|gene pool|everyone|we) (?:would be|is|are|'d be) better (?:off "
    rf")?without (?:you|u|them|people like)\b",
    rf"\bdo (?:everyone|us all|the world|us) a (?:favour|favor) and "
    rf"(?:die|disappear|leave|quit|shut up|go away|delete)",
    rf"\b(?:nobody|no one|noone) (?:would|will) (?:care|notice) if (?:you|u) "
    rf"(?:died|disappeared|were gone|left|vanished)\b",
    rf"\b(?:nobody|no one|noone) (?:will |would )?(?:ever "
    rf")?(?:love|loves|like|likes|want|wants|cares about|care about|misses|miss) (?:{YOU}|u)\b",
    rf"\bgo back to (?:the (?:sewer|gutter|cave|swamp|zoo|jungle)|your "
    rf"(?:country|cave|hole|kitchen|sewer))|\b(?:sewer|gutter|cave|rock) (?:you|u) "
    rf"(?:crawled|came|climbed|slithered)",
    # dehumanising talk about a group: "all x are terrorists", "illegals are criminals"
    rf"\b(?:all|these|those|every|most|the) {GROUP} (?:are|is) {NOT}(?:all |just |nothing but |a "
    rf"|the )?(?:\w+ )?{DEHUMANISING}\b",
    rf"\b{GROUP} are {NOT}(?:all |just |nothing but )?(?:a )?{DEHUMANISING}\b",
    rf"\b(?:these|those) {DEHUMANISING_PEOPLE} (?:should|need|must|deserve|are|have)\b",
    rf"\bthey are (?:a |all |just |nothing but "
    rf")?(?:disease|plague|cancer|infestation|vermin|subhuman|subhumans|savages|scum|filth)\b",
    rf"\b(?:(?:all|these|those|the) "
    rf")?(?:{IDENTITY}|(?:trans|gay|black|white|jewish|muslim|disabled|fat|old|poor) people) "
    rf"(?:are|is) {NOT}(?:all |just |so |really |simply |a bunch of )?(?:mentally ill|sick in the "
    rf"head|disgusting|evil|inferior|stupid|lazy|filthy|subhuman|worthless|a disease|a drain|a "
    rf"burden|a plague|a cancer)\b",
    rf"\b{IDENTITY} (?:should|must) (?:not|never) be (?:allowed|let|given|trusted)\b|\bsend "
    rf"(?:them|\w+s) (?:all )?back\b",
    rf"\btypical "
    rf"(?:woman|female|muslim|immigrant|liberal|libtard|leftist|feminist|boomer|millennial|democrat|republican|gay|jew|mexican|arab|black)\b",
    rf"\b(?:stay|get back|go back|belong) (?:in|to) the kitchen\b",
    rf"\b{DEHUMANISING},? (?:every|each|all) (?:single )?(?:one|last one) of them\b",
]
# A pattern is tried only on the words around one of its triggers, the words that name abuse
# (trying all patterns over a whole window cost 100 us a window; most windows have no trigger).
_KEY = frozenset(" ".join(alt[3:-1].replace("|", " ") for alt in (
    INSULTS, INSULTS_AIMED, ADJECTIVES, DEHUMANISING, DEHUMANISING_PEOPLE, VIOLENT, VIOLENT_YOU,
    HARM)).split()) | frozenset("""
    excuse waste thick find hunt pay regret bleed coming work sorry back happens live eye dead
    lesson ground grave hospital morgue hope kys yourself urself yourselves hell shot hanged killed
    gassed deported locked euthanized euthanised castrated exterminated wiped sterilized sterilised
    lynched thrown deserve deserves without everyone favour favor nobody noone nothing animal
    animals meat loves likes wants cares misses sewer gutter cave rock address grin teeth sun
    traffic highway freeway motorway kitchen typical allowed trusted send run over care notice
    mentally ill inferior drain burden evil filthy lazy dumbest stupidest idiotic retarded
    moronic""".split())
PATTERNS = [re.compile(p) for p in _PATTERNS]
TRIGGERS: dict[str, tuple[int, ...]] = {}
for _n, _p in enumerate(_PATTERNS):
    _words = set(re.findall(r"[a-z@']+", re.sub(r"\(\?!.*?\)|\\[a-z]", " ", _p))) & _KEY
    if not _words:  # it would never be tried
        raise ValueError(f"abuse pattern {_n} has no trigger word: {_p}")
    for _w in _words:
        TRIGGERS[_w] = TRIGGERS.get(_w, ()) + (_n,)
SPAN = 8  # words either side of a trigger that a pattern may reach


def hits(words: list[str]) -> int:
    """Abusive phrases in a window given as its lower-case words (the stage's word lists' tokens:
    punctuation gone, so a pattern may reach across a comma or a sentence's end): matches of the
    patterns, those that overlap counted once ("i will break your face" matches two)."""
    if TRIGGERS.keys().isdisjoint(words):
        return 0
    where: dict[int, list[int]] = {}
    for i, w in enumerate(words):
        for n in TRIGGERS.get(w, ()):
            where.setdefault(n, []).append(i)
    spans = []
    for n, at in where.items():
        end = -1
        for k, i in enumerate(at):
            if i <= end:
                continue
            start, end = max(0, i - SPAN), i + SPAN
            for j in at[k + 1:]:  # stretches that overlap are one: no match is counted twice
                if j - SPAN > end:
                    break
                end = j + SPAN
            stretch = " ".join(words[start:end + 1]).replace("’", "'")
            for m in PATTERNS[n].finditer(stretch):
                first = start + stretch.count(" ", 0, m.start())
                spans.append((first, first + m.group(0).count(" ")))
    count, reach = 0, -1
    for first, last in sorted(spans):
        if first > reach:
            count += 1
        reach = max(reach, last)
    return count
