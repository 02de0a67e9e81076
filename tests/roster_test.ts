import assert from "node:assert/strict";
import { NickRoster } from "../src/server/roster.ts";

const items = (roster: NickRoster) =>
  JSON.parse(`[${new TextDecoder().decode(roster.jsonItems())}]`);

Deno.test("a snapshot keeps the names of its moment through later joins, leaves and renames", () => {
  const roster = new NickRoster();
  for (const nick of ["ann", "bob", "cy"]) roster.add(nick);
  const before = roster.snapshot();
  roster.remove("bob");
  roster.rename("ann", "anna");
  roster.add("dee");
  assert.deepEqual(before(), ["ann", "bob", "cy"]);
  assert.deepEqual(roster.slice(0, roster.size), ["anna", "cy", "dee"]);
  assert.deepEqual(items(roster), ["anna", "cy", "dee"]);
  const after = roster.snapshot();
  roster.remove("cy");
  assert.deepEqual(after(), ["anna", "cy", "dee"]);
  assert.deepEqual(before(), ["ann", "bob", "cy"]);
});

Deno.test("5,000 members leaving one by one leave an empty roster, in order all the way", () => {
  const roster = new NickRoster();
  const nicks = Array.from({ length: 5000 }, (_, i) => `m${i}`);
  for (const nick of nicks) roster.add(nick);
  const all = roster.snapshot();
  for (let i = 0; i < 2500; i++) roster.remove(nicks[i * 2]);
  assert.deepEqual(
    roster.slice(0, roster.size),
    nicks.filter((_, i) => i % 2 === 1),
  );
  assert.deepEqual(items(roster), nicks.filter((_, i) => i % 2 === 1));
  for (const nick of nicks) roster.remove(nick);
  assert.equal(roster.size, 0);
  assert.deepEqual(items(roster), []);
  assert.equal(all().length, 5000, "the snapshot taken before is whole");
  roster.remove("nobody");
  assert.equal(roster.size, 0);
});
