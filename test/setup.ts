// Tests import modules from src/ directly; load the core the way the Node.js entry (src/index.ts) does.
import "../src/core/load-node.js";
