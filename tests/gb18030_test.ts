/**
 * GB18030 for Chinese consoles: the GB18030 and GBK encoders built from the
 * runtime's decoder, and a connection's charset switching when its text is
 * not UTF-8 but GB18030.
 */

import assert from "node:assert/strict";
import { encodeGb18030, encodeGbk, fitsGbk } from "../src/shared/gb18030.ts";
import {
  charsetByName,
  gbCharactersEnd,
  TextCharset,
  utf8CharactersEnd,
} from "../src/server/doors/text_charset.ts";

const gb = new TextDecoder("gb18030", { fatal: true });
const NIHAO_GBK = [0xc4, 0xe3, 0xba, 0xc3];

Deno.test("你好 round-trips through GBK bytes", () => {
  assert.deepEqual([...encodeGbk("你好")], NIHAO_GBK);
  assert.equal(gb.decode(encodeGbk("你好")), "你好");
  const text = "大家好！『中文』——1234 abc，。、￥€";
  assert.equal(gb.decode(encodeGbk(text)), text);
});

Deno.test("every character of the two-byte table encodes back to its own bytes", () => {
  let checked = 0;
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      const character = gb.decode(new Uint8Array([lead, trail]));
      const back = gb.decode(encodeGbk(character));
      assert.equal(
        back,
        character,
        `${lead.toString(16)}${trail.toString(16)}`,
      );
      checked++;
    }
  }
  assert.equal(checked, 23940);
});

Deno.test("what GBK cannot carry is one ? per character as the user sees it", () => {
  assert.equal(gb.decode(encodeGbk("hi 👋🏽 e\u0301!")), "hi ? ?!");
  assert.equal(gb.decode(encodeGbk("😀中")), "?中");
  assert.equal(fitsGbk("中文"), true);
  assert.equal(fitsGbk("😀"), false);
});

Deno.test("GB18030 carries every character: each code point of Unicode reads back as itself, never 0xFF", () => {
  let questionMarks = 0;
  let checked = 0;
  // Every code point but the surrogates, one call each (1.1 million).
  for (let codePoint = 0x80; codePoint <= 0x10ffff; codePoint++) {
    if (codePoint === 0xd800) codePoint = 0xe000;
    const character = String.fromCodePoint(codePoint);
    const bytes = encodeGb18030(character);
    if (bytes.length === 1 && bytes[0] === 0x3f) {
      questionMarks++;
      continue;
    }
    assert.ok(
      !bytes.includes(0xff),
      `U+${codePoint.toString(16)}: 0xFF is IAC`,
    );
    assert.equal(gb.decode(bytes), character, `U+${codePoint.toString(16)}`);
    checked++;
  }
  // The private-use code points GB18030-2022 moved off their codes (U+E5E5,
  // U+E78D …): the decoder gives them for no code, so none reads back.
  assert.ok(questionMarks <= 24, `${questionMarks} code points written as ?`);
  assert.ok(checked > 1_111_000);
  assert.deepEqual([...encodeGb18030("😀")], [0x94, 0x39, 0xfc, 0x36]);
  const text = "hi 👋🏽 e\u0301 ¥ 𠀀 你好";
  assert.equal(gb.decode(encodeGb18030(text)), text);
  // A lone surrogate is no character: the one thing shown as ?.
  assert.equal(gb.decode(encodeGb18030("a\ud800b")), "a?b");
});

Deno.test("a first line of GBK switches the connection to GB18030, once, and says so", () => {
  const switched: string[] = [];
  const charset = new TextCharset((name) => switched.push(name));
  assert.equal(
    charset.decodeLine(new TextEncoder().encode("bob"), true),
    "bob",
  );
  assert.equal(charset.name, "utf-8", "ASCII proves nothing");
  assert.equal(charset.decodeLine(new Uint8Array(NIHAO_GBK), true), "你好");
  assert.equal(charset.name, "gb18030");
  assert.equal(switched.length, 1);
  assert.match(
    switched[0],
    /^\* Your text is GB18030, not UTF-8: .*\/charset utf-8/,
  );
  assert.deepEqual([...charset.encodeText("你好")], NIHAO_GBK);
  assert.deepEqual([...charset.encode(new TextEncoder().encode("你好\n"))], [
    ...NIHAO_GBK,
    0x0a,
  ]);
  // A line that is not GB18030 (a lead byte without its second) is refused.
  const broken = new Uint8Array([0x61, 0xc4]);
  assert.equal(charset.decodeLine(broken, true), undefined);
  assert.match(charset.refusal(broken), /GB18030 \(\/charset utf-8/);
});

Deno.test("once a line of UTF-8 came, GBK is refused with a hint, not guessed", () => {
  const switched: string[] = [];
  const charset = new TextCharset((name) => switched.push(name));
  assert.equal(
    charset.decodeLine(new TextEncoder().encode("你好"), true),
    "你好",
  );
  assert.equal(charset.decodeLine(new Uint8Array(NIHAO_GBK), true), undefined);
  assert.match(charset.refusal(new Uint8Array(NIHAO_GBK)), /\/charset gb18030/);
  assert.deepEqual(switched, []);
  // Bytes valid in neither get the plain wording; JSON connections never guess.
  assert.equal(
    charset.refusal(new Uint8Array([0xff, 0xfe])),
    "that line is not valid UTF-8",
  );
  const json = new TextCharset(() => assert.fail("no switch"));
  assert.equal(json.decodeLine(new Uint8Array(NIHAO_GBK), false), undefined);
  // Where nothing is guessed (JSON, IRC) there is no /charset to name.
  assert.equal(
    json.refusal(new Uint8Array(NIHAO_GBK), false),
    "that line is not valid UTF-8: this server reads UTF-8 only",
  );
  // Characters of four UTF-8 bytes (two UTF-16 units) show UTF-8 too.
  const emoji = new TextCharset(() => assert.fail("no switch"));
  assert.equal(emoji.decodeLine(new TextEncoder().encode("👋🏽"), true), "👋🏽");
  assert.equal(emoji.decodeLine(new Uint8Array(NIHAO_GBK), true), undefined);
});

Deno.test("/charset names: utf-8, gb18030 and gbk, and their everyday spellings", () => {
  assert.equal(charsetByName("UTF8"), "utf-8");
  assert.equal(charsetByName(" GB18030 "), "gb18030");
  assert.equal(charsetByName(" gbk "), "gbk");
  assert.equal(charsetByName("cp936"), "gbk");
  assert.equal(charsetByName("latin1"), undefined);
  const charset = new TextCharset(() => assert.fail("chosen, not switched"));
  assert.deepEqual(charset.command("latin1"), {
    usage: "usage: /charset utf-8|gb18030|gbk (now utf-8)",
  });
  assert.deepEqual(charset.command("gb18030"), {
    notice: "* This connection now uses GB18030 both ways.",
  });
  assert.equal(charset.decodeLine(new Uint8Array(NIHAO_GBK), true), "你好");
  assert.equal(gb.decode(charset.encodeText("你好 👋")), "你好 👋");
  // GBK reads the same, and writes ? for what a code page 936 console
  // would show as garbage.
  assert.match(
    (charset.command("GBK") as { notice: string }).notice,
    /now uses GBK both ways: .*emoji, show as \?/,
  );
  assert.equal(charset.decodeLine(new Uint8Array(NIHAO_GBK), true), "你好");
  assert.equal(gb.decode(charset.encodeText("你好 👋")), "你好 ?");
  assert.equal(
    gb.decode(charset.encode(new TextEncoder().encode("再见 😀\n"))),
    "再见 ?\n",
  );
});

Deno.test("keys in character mode: GBK bytes one at a time switch the charset on the first whole character", () => {
  const switched: string[] = [];
  const charset = new TextCharset((name) => switched.push(name));
  const typed = [0x61, ...NIHAO_GBK, 0x0d].map((b) =>
    charset.decodeKeys(new Uint8Array([b]))
  ).join("");
  assert.equal(typed, "a你好\r");
  assert.equal(switched.length, 1);
  // UTF-8 split across reads waits for the rest of the character.
  const utf8 = new TextCharset(() => assert.fail("UTF-8 is no switch"));
  const bytes = new TextEncoder().encode("中文");
  const out = [...bytes].map((b) => utf8.decodeKeys(new Uint8Array([b])));
  assert.deepEqual(out, ["", "", "中", "", "", "文"]);
});

Deno.test("character boundaries: a character's first bytes wait for the rest", () => {
  assert.equal(utf8CharactersEnd(new Uint8Array([0x61, 0xe4, 0xb8])), 1);
  assert.equal(utf8CharactersEnd(new Uint8Array([0x61, 0xe4, 0xb8, 0xad])), 4);
  assert.equal(utf8CharactersEnd(new Uint8Array([0x61, 0xff])), 2);
  assert.equal(gbCharactersEnd(new Uint8Array([0x61, 0xc4])), 1);
  assert.equal(gbCharactersEnd(new Uint8Array([0xc4, 0xe3, 0x81, 0x30])), 2);
  assert.equal(gbCharactersEnd(new Uint8Array([0x81, 0x30, 0x81, 0x30])), 4);
});
