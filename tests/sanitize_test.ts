/**
 * What a nickname may be and which nicknames are one (src/shared/sanitize.ts,
 * the UTS #39 skeleton and mixed-script rules, the hub's nickname index),
 * and what message text becomes. Pure: no server.
 */

import assert from "node:assert/strict";
import {
  cleanText,
  isValidNick,
  lookalikeKeys,
  nickKey,
  nickProblem,
} from "../src/shared/sanitize.ts";
import { confusableSkeleton } from "../src/shared/confusable_skeleton.ts";
import {
  CONFUSABLES_VERSION,
  PACKED_PROTOTYPES,
} from "../src/shared/confusables_table.ts";
import { mixesScripts } from "../src/shared/script_mix.ts";
import { NickIndex } from "../src/server/nick_index.ts";
import { NICK_PROBLEM_MESSAGES, nickErrorMessage } from "../protocol.ts";

Deno.test("nicknames in one script, with accents or in full width, are valid", () => {
  for (
    const nick of [
      "alice",
      "Bob_42",
      "x",
      "7up",
      "小明",
      "José", // é precomposed
      "Jose\u0301", // e and a combining acute
      "ａｌｉｃｅ",
      "Иван",
      "ΑΒΓ",
      "محمد",
      "김철수",
      "Tokyo東京とうきょう", // Latin, Han, Hiragana: one of UTS #39's allowed mixes
      "kim김철수金", // Latin, Hangul, Han
      "Nguyễn", // two marks on one letter in NFD
      "a".repeat(24),
    ]
  ) {
    assert.equal(nickProblem(nick), undefined, JSON.stringify(nick));
    assert.ok(isValidNick(nick));
  }
});

Deno.test("invisible and filler characters are refused, wherever they are", () => {
  for (
    const nick of [
      "alice\u3164", // HANGUL FILLER, a letter
      "\u3164",
      "\u3164\u3164",
      "\u115falice", // HANGUL CHOSEONG FILLER
      "al\u1160ice", // HANGUL JUNGSEONG FILLER
      "alice\uffa0", // HALFWIDTH HANGUL FILLER
      "ali\u200bce", // ZERO WIDTH SPACE
      "ali\u200dce", // ZERO WIDTH JOINER
      "alice\u2060", // WORD JOINER
      "alice\ufe0f", // VARIATION SELECTOR-16, a mark
      "ali\u034fce", // COMBINING GRAPHEME JOINER
      "ali\u00adce", // SOFT HYPHEN
    ]
  ) {
    assert.equal(nickProblem(nick), "invisible", JSON.stringify(nick));
  }
});

Deno.test("a nickname starts with a letter or digit: marks alone, _ or - first are malformed", () => {
  for (
    const nick of [
      "\u0301",
      "\u0301\u0302\u0303",
      "\u0301alice",
      "_alice",
      "-bob",
      "",
      "two words",
      "a".repeat(25),
      "\ud800",
    ]
  ) {
    assert.equal(nickProblem(nick), "malformed", JSON.stringify(nick));
  }
});

Deno.test("a doubled nonspacing mark or more than four in a row are refused", () => {
  assert.equal(nickProblem("a\u0301\u0301"), "marks");
  assert.equal(nickProblem("a\u0300\u0301\u0302\u0303\u0304"), "marks");
  assert.equal(nickProblem("a\u0300\u0301\u0302\u0303"), undefined);
});

Deno.test("an ASCII name mixes no scripts: every ASCII character is Latin or goes with any script", () => {
  // mixesScripts answers ASCII without its table; this is why it may.
  const anyScript = /^[\p{Script_Extensions=Zyyy}\p{Script_Extensions=Zinh}]$/u;
  for (let code = 0; code < 0x80; code++) {
    const char = String.fromCharCode(code);
    assert.ok(
      /^\p{Script_Extensions=Latn}$/u.test(char) || anyScript.test(char),
      `U+${code.toString(16).padStart(4, "0")}`,
    );
  }
  assert.equal(mixesScripts("Alice_42-x"), false);
  assert.equal(mixesScripts("Alice\u0430"), true, "one Cyrillic letter mixes");
});

Deno.test("Latin with Cyrillic or Greek mixes scripts; digits, _ and - go with any", () => {
  for (const nick of ["\u0430lice", "dogмяу", "ωmega", "paypaΙ", "محمدa"]) {
    assert.equal(nickProblem(nick), "mixed_scripts", JSON.stringify(nick));
  }
  assert.equal(
    mixesScripts("ㄅあ"),
    true,
    "Bopomofo with kana is no allowed mix",
  );
  assert.equal(mixesScripts("ㄅa中"), false, "Latin, Han and Bopomofo is");
  assert.equal(mixesScripts("Иван_2-3"), false);
  assert.equal(mixesScripts("2_-"), false);
  assert.equal(
    NICK_PROBLEM_MESSAGES.mixed_scripts,
    "nicknames may not mix scripts like Latin and Cyrillic",
  );
  assert.equal(
    nickErrorMessage("nick_invalid", "dogмяу"),
    NICK_PROBLEM_MESSAGES.mixed_scripts,
  );
  assert.equal(
    nickErrorMessage("nick_invalid", "al\u3164"),
    NICK_PROBLEM_MESSAGES.invisible,
  );
  assert.equal(
    nickErrorMessage("nick_taken", "alice"),
    "that nickname is taken",
  );
});

Deno.test("the skeleton maps look-alikes to one prototype; the table holds all of confusables.txt", () => {
  assert.equal(confusableSkeleton("\u0430lice"), confusableSkeleton("alice"));
  assert.equal(confusableSkeleton("раураl"), "paypal"); // all Cyrillic but l
  assert.equal(confusableSkeleton("m"), "rn");
  assert.equal(confusableSkeleton("Il1"), "lll");
  assert.equal(confusableSkeleton("ℌ"), "H");
  assert.equal(confusableSkeleton("小明"), "小明");
  assert.equal(CONFUSABLES_VERSION, "15.0.0");
  // The table holds every entry of confusables.txt 15.0.0, each source once,
  // and each maps a source to something else.
  const sources = new Set<number>();
  for (const group of PACKED_PROTOTYPES.join("").split(" ")) {
    let source = 0;
    for (const delta of group.split(":")[1].split(",")) {
      source += parseInt(delta, 36);
      sources.add(source);
      const char = String.fromCodePoint(source);
      if (char.normalize("NFD") === char) {
        assert.notEqual(confusableSkeleton(char), char, source.toString(16));
      }
    }
  }
  assert.equal(sources.size, 6311);
});

Deno.test("nickKey folds case and compatibility forms; look-alike keys also fold glyphs", () => {
  assert.equal(nickKey("ＡＬＩＣＥ"), "alice");
  assert.notEqual(nickKey("\u0430lice"), nickKey("alice"));
  const shares = (a: string, b: string) =>
    lookalikeKeys(a).some((key) => lookalikeKeys(b).includes(key));
  assert.ok(shares("\u0430lice", "alice"));
  assert.ok(shares("АLICE", "alice"), "Cyrillic capital А, Latin LICE");
  assert.ok(shares("Ilya", "llya"), "capital i and small L");
  assert.ok(shares("bob1", "bobl"));
  assert.ok(shares("jim", "jirn"));
  assert.ok(!shares("alice", "alicia"));
  assert.ok(!shares("小明", "小红"));
});

Deno.test("the nickname index refuses a look-alike of a held name, and frees it on remove", () => {
  const index = new NickIndex<string>();
  index.add("alice", "A");
  assert.equal(index.find("ALICE"), "A");
  assert.equal(
    index.find("\u0430lice"),
    undefined,
    "a look-alike is not alice",
  );
  for (const nick of ["alice", "Alice", "ａｌｉｃｅ", "\u0430lice", "АLICE"]) {
    assert.equal(index.conflict(nick), "A", nick);
  }
  assert.equal(index.conflict("Alice", "A"), undefined, "a holder's own name");
  assert.equal(index.conflict("bob"), undefined);
  assert.equal(index.remove("alice", "B"), false, "only its holder frees it");
  assert.equal(index.conflict("\u0430lice"), "A");
  assert.equal(index.remove("Alice", "A"), true);
  assert.equal(index.size, 0);
  assert.equal(index.conflict("\u0430lice"), undefined);
});

Deno.test("message text: lone surrogates become U+FFFD, pairs stay", () => {
  assert.equal(cleanText("a\ud800b\udc00c\ud83d"), "a\ufffdb\ufffdc\ufffd");
  assert.equal(cleanText("ok 😀"), "ok 😀");
  assert.equal(cleanText("\t\ud800"), " \ufffd");
});
