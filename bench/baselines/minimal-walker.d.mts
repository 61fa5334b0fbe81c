// Types for minimal-walker.mjs, the shared yardstick (a byte-identical copy of
// ../shared/perf/minimal-walker.mjs; test/bench-yardstick.test.ts checks it).
// Do not edit the .mjs: change the shared file and copy it again.
export declare const VA_HI: number;
export declare const DATA_BASE: number;
export declare const PAGES: number;
export declare const mem: Uint32Array;
export declare function walk(hi: number, lo: number, user: boolean): number;
export declare function addresses(n: number, span: number, seed?: number): Uint32Array;
