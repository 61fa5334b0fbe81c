/**
 * Property tests: the WebAssembly core and the reference walker agree on
 * random page tables (test/helpers/random-scenario.ts). Every output field is
 * compared; with trace, everything but `walk`.
 *
 * X86MMU_PROPERTY_RUNS sets the number of runs per property (default 300);
 * X86MMU_PROPERTY_SEED replays a seed fast-check reported.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { engines } from "./helpers/engines.js";
import { scenarioArb } from "./helpers/random-scenario.js";

const numRuns = Number(process.env.X86MMU_PROPERTY_RUNS ?? "") || 300;
const seedEnv = process.env.X86MMU_PROPERTY_SEED;
const params: fc.Parameters<unknown> = {
  numRuns,
  ...(seedEnv !== undefined && seedEnv !== "" ? { seed: Number(seedEnv) } : {}),
};

/** About 4 ms per run and property; generous so that large run counts do not time out. */
const timeout = Math.max(60_000, numRuns * 20);

const [first, second] = engines as [(typeof engines)[0], (typeof engines)[0]];

interface Output {
  results: Array<Record<string, unknown>>;
  memory: Array<{ paddr: string; value: string }>;
}

/** The output without `walk` in any result. */
function withoutWalk(o: unknown): unknown {
  const r = structuredClone(o) as Output;
  for (const x of r.results) delete x.walk;
  return r;
}

describe(`${first.name} and ${second.name} engines agree on random page tables`, () => {
  it(`produce the same output (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        expect(first.runJson(s)).toStrictEqual(second.runJson(s));
      }),
      params,
    );
  }, timeout);

  it(`produce the same output with trace, walk aside (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const a = first.runJson(s, { trace: true }) as Output;
        const b = second.runJson(s, { trace: true }) as Output;
        for (const r of [...a.results, ...b.results]) expect(Array.isArray(r.walk)).toBe(true);
        expect(withoutWalk(a)).toStrictEqual(withoutWalk(b));
      }),
      params,
    );
  }, timeout);

  it(`list changed memory ascending, 8-byte aligned words only (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        for (const e of engines) {
          const out = e.runJson(s) as Output;
          let prev = -1n;
          for (const m of out.memory) {
            const paddr = BigInt(m.paddr);
            expect(paddr % 8n, `${e.name}: ${m.paddr} not 8-byte aligned`).toBe(0n);
            expect(paddr > prev, `${e.name}: ${m.paddr} not above the previous entry`).toBe(true);
            prev = paddr;
          }
        }
      }),
      params,
    );
  }, timeout);
});
