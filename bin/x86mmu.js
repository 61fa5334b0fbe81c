#!/usr/bin/env node
import { main } from "../dist/cli/index.js";

// A reader that stops early (x86mmu demo | head) is not an error.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
process.exitCode = main(process.argv.slice(2));
