// The data-only modules of hpack.js that h2-session.ts uses (the package ships no types).
declare module 'hpack.js/lib/hpack/huffman.js' {
  /** The Huffman code of RFC 7541 Appendix B: [bit length, code] for symbols 0–256 (256 is EOS). */
  const huffman: { encode: Array<[number, number]> };
  export default huffman;
}
declare module 'hpack.js/lib/hpack/static-table.js' {
  /** The static table of RFC 7541 Appendix A, from index 1. */
  const staticTable: { table: Array<{ name: string; value: string }> };
  export default staticTable;
}
