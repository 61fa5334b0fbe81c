/**
 * The scenario engines every engine-agnostic test runs against, each taking
 * and returning the public JSON form (docs/scenario-format.md): the
 * WebAssembly core (what `x86mmu run` uses) and the reference walker.
 */
import { parseScenario } from "../../src/scenario/parse.js";
import { formatResult } from "../../src/scenario/format.js";
import { ReferenceEngine } from "../../src/reference/engine.js";
import { CoreEngine } from "../../src/scenario/core-engine.js";
import type { ScenarioEngine } from "../../src/scenario/types.js";

export interface JsonEngine {
  name: string;
  runJson(input: unknown, options?: { trace?: boolean }): unknown;
}

function wrap(name: string, engine: ScenarioEngine): JsonEngine {
  return {
    name,
    runJson(input, options) {
      const scenario = parseScenario(input);
      return formatResult(engine.run(scenario, options), options);
    },
  };
}

export const engines: JsonEngine[] = [wrap("core", new CoreEngine()), wrap("reference", new ReferenceEngine())];
