/** xorshift32 (xorshift.mjs): a generator of u32s from a seed. */
export function xorshift32(seed: number): () => number;
