/**
 * The web page's message field as data: which key does what
 * (src/client/web/field_keys.ts) and Tab's `@nick` completion
 * (src/client/web/mention_completion.ts). The browser tests
 * (web_talk_browser_test.ts) press the same keys in Chromium.
 */

import assert from "node:assert/strict";
import { fieldKeyAction, type KeyPress } from "../src/client/web/field_keys.ts";
import { completeMention } from "../src/client/web/mention_completion.ts";
import { interpretLine } from "../src/client/web/typed_line.ts";

const key = (name: string, extra: Partial<KeyPress> = {}): KeyPress => ({
  key: name,
  shiftKey: false,
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  isComposing: false,
  keyCode: 0,
  ...extra,
});

Deno.test("Enter sends; Shift-Enter, Alt-Enter and Ctrl-J break the line, as in chat connect", () => {
  assert.equal(fieldKeyAction(key("Enter"), false), "send");
  // The textarea's own line break.
  assert.equal(
    fieldKeyAction(key("Enter", { shiftKey: true }), false),
    "default",
  );
  assert.equal(
    fieldKeyAction(key("Enter", { altKey: true }), false),
    "newline",
  );
  assert.equal(fieldKeyAction(key("j", { ctrlKey: true }), false), "newline");
  assert.equal(fieldKeyAction(key("j"), false), "default");
  assert.equal(
    fieldKeyAction(key("j", { ctrlKey: true, shiftKey: true }), false),
    "default",
  );
});

Deno.test("while an input method composes, every key is its own: Enter never sends half a word, nor breaks the line", () => {
  for (const press of [key("Enter"), key("Tab"), key("Escape")]) {
    // The input method's key (229; Safari's Enter that ends a composition
    // comes so after compositionend): the browser gives it to the IME.
    assert.equal(fieldKeyAction({ ...press, keyCode: 229 }, false), "default");
    assert.equal(
      fieldKeyAction({ ...press, keyCode: 229, isComposing: true }, false),
      "default",
    );
  }
  // An Enter the input method left to the page while it composes (by
  // isComposing, or between compositionstart and compositionend): nothing
  // at all, neither sent nor a line break in the field.
  const enter = key("Enter", { keyCode: 13 });
  assert.equal(
    fieldKeyAction({ ...enter, isComposing: true }, false),
    "ignore",
  );
  assert.equal(fieldKeyAction(enter, true), "ignore");
  // Its other keys stay the input method's.
  assert.equal(fieldKeyAction(key("Tab"), true), "default");
  assert.equal(
    fieldKeyAction(key("Escape", { isComposing: true }), false),
    "default",
  );
  assert.equal(fieldKeyAction({ ...enter, shiftKey: true }, true), "default");
});

Deno.test("Tab completes, Shift-Tab moves back; Esc cancels; Alt-Up and Alt-Down (or Ctrl) pick the message to answer", () => {
  assert.equal(fieldKeyAction(key("Tab"), false), "complete");
  assert.equal(
    fieldKeyAction(key("Tab", { shiftKey: true }), false),
    "default",
  );
  assert.equal(fieldKeyAction(key("Escape"), false), "cancel");
  assert.equal(
    fieldKeyAction(key("ArrowUp", { altKey: true }), false),
    "older",
  );
  assert.equal(
    fieldKeyAction(key("ArrowUp", { ctrlKey: true }), false),
    "older",
  );
  assert.equal(
    fieldKeyAction(key("ArrowDown", { altKey: true }), false),
    "newer",
  );
  // Plain arrows move the caret between the field's lines.
  assert.equal(fieldKeyAction(key("ArrowUp"), false), "default");
  assert.equal(
    fieldKeyAction(key("ArrowUp", { altKey: true, ctrlKey: true }), false),
    "default",
  );
  assert.equal(
    fieldKeyAction(key("ArrowUp", { altKey: true, shiftKey: true }), false),
    "default",
  );
});

Deno.test("@ and a name's start complete to @name and a space, anywhere in the text, in any case", () => {
  const nicks = ["alice", "Bob", "王小明"];
  assert.deepEqual(completeMention("hi @b", 5, nicks), {
    text: "hi @Bob ",
    caret: 8,
    cycle: undefined,
  });
  assert.deepEqual(completeMention("@王", 2, nicks), {
    text: "@王小明 ",
    caret: 5,
    cycle: undefined,
  });
  // In the middle of the text, on its second line, after a bracket; the
  // space already after it is the one it needs.
  assert.deepEqual(completeMention("one\n(@AL and more", 8, nicks), {
    text: "one\n(@alice and more",
    caret: 12,
    cycle: undefined,
  });
  assert.equal(completeMention("@al\nnext", 3, nicks)?.text, "@alice \nnext");
});

Deno.test("no @, a mail address or no such name: nothing is completed, so Tab moves on", () => {
  const nicks = ["bob"];
  assert.equal(completeMention("b", 1, nicks), undefined);
  assert.equal(completeMention("mail me@b", 9, nicks), undefined);
  assert.equal(completeMention("hi @z", 5, nicks), undefined);
  assert.equal(completeMention("", 0, nicks), undefined);
  assert.equal(completeMention("hi @b", 5, []), undefined);
});

Deno.test("with several matches each Tab offers the next, in order, and comes round again", () => {
  const nicks = ["bob", "Bea", "bill", "carl", "BOB"];
  const first = completeMention("@b", 2, nicks)!;
  assert.equal(first.text, "@Bea ");
  const second = completeMention(first.text, first.caret, nicks, first.cycle)!;
  assert.equal(second.text, "@bill ");
  const third = completeMention(
    second.text,
    second.caret,
    nicks,
    second.cycle,
  )!;
  // One "bob" however it is spelled.
  assert.equal(third.text, "@bob ");
  const again = completeMention(third.text, third.caret, nicks, third.cycle)!;
  assert.equal(again.text, "@Bea ");
  // A change in between starts afresh.
  assert.equal(
    completeMention("@bill x @c", 10, nicks, second.cycle)?.text,
    "@bill x @carl ",
  );
});

Deno.test("a text of several lines is one message; over 50 lines it stays in the field", () => {
  const inRoom = {
    target: { kind: "room" as const, room: "lobby" },
    multiRoom: true,
  };
  assert.deepEqual(interpretLine("one\ntwo\n  three", inRoom), {
    kind: "send",
    frames: [{ type: "say", text: "one\ntwo\n  three", room: "lobby" }],
  });
  const tooMany = Array.from({ length: 51 }, (_, i) => `l${i}`).join("\n");
  assert.deepEqual(interpretLine(tooMany, inRoom), {
    kind: "too-long",
    text: tooMany,
    problem: "51 lines, a message holds at most 50",
  });
});
