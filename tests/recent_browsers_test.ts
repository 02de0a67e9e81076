import assert from "node:assert/strict";
import { RecentBrowsers } from "../src/server/doors/recent_browsers.ts";
import { ROUTER_TIMINGS } from "../src/shared/limits.ts";

Deno.test("an address that opened the page lately waits longer before the banner, for a while", () => {
  let now = 0;
  const browsers = new RecentBrowsers(() => now);
  assert.equal(
    browsers.openingWaitMs("127.0.0.1"),
    ROUTER_TIMINGS.openingWaitMs,
  );
  browsers.saw("127.0.0.1");
  assert.equal(
    browsers.openingWaitMs("127.0.0.1"),
    ROUTER_TIMINGS.browserOpeningWaitMs,
  );
  assert.equal(
    browsers.openingWaitMs("127.0.0.2"),
    ROUTER_TIMINGS.openingWaitMs,
  );
  now += ROUTER_TIMINGS.browserMemoryMs + 1;
  assert.equal(
    browsers.openingWaitMs("127.0.0.1"),
    ROUTER_TIMINGS.openingWaitMs,
  );
});

Deno.test("only so many addresses are remembered: the oldest is forgotten", () => {
  const browsers = new RecentBrowsers(() => 0);
  for (let i = 0; i <= ROUTER_TIMINGS.browsersRemembered; i++) {
    browsers.saw(`10.0.${i >> 8}.${i & 255}`);
  }
  assert.equal(
    browsers.openingWaitMs("10.0.0.0"),
    ROUTER_TIMINGS.openingWaitMs,
  );
  assert.equal(
    browsers.openingWaitMs("10.0.0.1"),
    ROUTER_TIMINGS.browserOpeningWaitMs,
  );
});
