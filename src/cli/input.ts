/**
 * Scenario input for `run` and `explain`, read as it is consumed: a `.jsonl`
 * file or JSON lines on stdin are parsed one line at a time, so memory stays
 * flat however many scenarios there are, and a reader that stops early (an
 * output pipe closed) stops the reading too.
 *
 * What the input is: `.json` is one scenario (the whole file); `.jsonl` is
 * one scenario per non-empty line. Anything else (stdin `-` too): when one of
 * the first two non-empty lines is a JSON value on its own, the input is JSON
 * lines; otherwise it is one JSON document, read whole (so a truncated
 * document is one error, not one per line). A single line holding one object
 * and nothing after it counts as a `.json` document (results print pretty).
 */

import { closeSync, openSync, readSync } from "node:fs";
import { parseScenario, ScenarioError } from "../scenario/index.js";
import type { Scenario } from "../scenario/index.js";

/** One scenario of the input, or why it cannot run; `jsonl` says how the input is read (and how results print). */
export type InputItem = { scenario: Scenario; error?: undefined; jsonl: boolean } | { scenario?: undefined; error: ScenarioError; jsonl: boolean };

const CHUNK = 1 << 16;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** The lines of file descriptor `fd` (without their "\n" or "\r\n"), read a chunk at a time. */
export function* readLines(fd: number): Generator<string> {
  const buf = Buffer.allocUnsafe(CHUNK);
  const decoder = new TextDecoder("utf-8");
  let pending = "";
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, CHUNK, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        Atomics.wait(pause, 0, 0, 5); // a non-blocking stdin with nothing yet: wait a little
        continue;
      }
      if (code === "EOF") n = 0;
      else throw e;
    }
    if (n === 0) break;
    pending += decoder.decode(buf.subarray(0, n), { stream: true });
    let start = 0;
    for (let i = pending.indexOf("\n"); i >= 0; i = pending.indexOf("\n", start)) {
      yield stripCr(pending.slice(start, i));
      start = i + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.decode();
  if (pending !== "") yield stripCr(pending);
}

const stripCr = (line: string): string => (line.endsWith("\r") ? line.slice(0, -1) : line);

/** Parses one scenario: every failure (invalid JSON, a broken field, input too deep to handle) is a ScenarioError naming `where`. */
export function parseOne(text: string, where: string): Scenario {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    throw new ScenarioError(where, "", `invalid JSON: ${(e as Error).message}`);
  }
  try {
    return parseScenario(value, where);
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    throw new ScenarioError(where, "", `cannot be read (${(e as Error).message}); is it nested too deeply?`);
  }
}

function item(text: string, where: string, jsonl: boolean): InputItem {
  try {
    return { scenario: parseOne(text, where), jsonl };
  } catch (e) {
    return { error: e as ScenarioError, jsonl };
  }
}

const parsesAlone = (line: string): boolean => {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
};

/** The scenarios of `file` ("-": stdin), in input order, read as they are asked for. */
export function* scenarioItems(file: string): Generator<InputItem> {
  const fd = file === "-" ? 0 : openSync(file, "r");
  try {
    const lower = file.toLowerCase();
    const lines = readLines(fd);
    if (lower.endsWith(".json")) {
      yield item([...lines].join("\n"), "#1", false);
      return;
    }
    // JSON lines for sure once a second scenario line is seen (or for .jsonl).
    let decided = lower.endsWith(".jsonl");
    let n = 0;
    let first: { text: string; where: string } | undefined;
    for (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      const where = `line ${n}`;
      if (decided) {
        yield item(line, where, true);
        continue;
      }
      if (first === undefined) {
        first = { text: line, where };
        continue;
      }
      if (!parsesAlone(first.text) && !parsesAlone(line)) {
        // Neither of the first two lines is JSON on its own: one document over
        // several lines (or a broken one), read whole.
        const rest = [first.text, line];
        for (const l of lines) rest.push(l);
        yield item(rest.join("\n"), "#1", false);
        return;
      }
      decided = true;
      yield item(first.text, first.where, true);
      first = undefined;
      yield item(line, where, true);
    }
    // A single line and nothing after it: a one-scenario document when it holds an object.
    if (first !== undefined) {
      const doc = first.text.trim().startsWith("{");
      yield item(first.text, doc ? "#1" : first.where, !doc);
    }
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}
