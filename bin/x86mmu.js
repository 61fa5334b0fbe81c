#!/usr/bin/env node
import { writeSync } from "node:fs";
import { main, OutputClosed } from "../dist/cli/index.js";

// Output is written synchronously, so that a reader that stops early
// (x86mmu run big.jsonl | head -1) stops the command at once: EPIPE ends it
// (exit 0) before the next scenario runs.
const pause = new Int32Array(new SharedArrayBuffer(4));
function writer(fd) {
  return (s) => {
    const buf = Buffer.from(s, "utf8");
    for (let at = 0; at < buf.length; ) {
      try {
        at += writeSync(fd, buf, at);
      } catch (e) {
        if (e.code === "EAGAIN") Atomics.wait(pause, 0, 0, 2); // a non-blocking pipe that is full: wait for the reader
        else if (e.code === "EPIPE") throw new OutputClosed();
        else throw e;
      }
    }
  };
}

process.exitCode = main(process.argv.slice(2), writer(1), (s) => {
  try {
    writer(2)(s);
  } catch {
    // stderr closed: nothing more to say
  }
});
