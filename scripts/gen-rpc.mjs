// Generates, at build time, the gRPC method tables of proto/*.proto with static per-message
// serializers: `dist/rpc-codec.mjs`. The CLI and the daemon then build their grpc-js clients and
// services from it without proto-loader or protobufjs reflection at run time (that cost ~45 ms of
// every command's start-up).
//
// The generated code keeps proto-loader's semantics exactly as the code base reads messages:
// `{ keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }` on decode
// (repeated fields default to [], maps to {}, scalars to their zero value, messages to null,
// oneof members are set only when present and their oneof reports the member's name), and
// protobufjs's `fromObject` conversions on encode (String(), Number(), |0, >>>0, Boolean(),
// base64 strings for bytes, TypeErrors for a non-object message or a non-array repeated field).
import protobuf from 'protobufjs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let camelCase;
try {
  camelCase = require(require.resolve('lodash.camelcase', { paths: [require.resolve('@grpc/proto-loader')] }));
} catch {
  camelCase = (s) => s.charAt(0).toLowerCase() + s.slice(1);
}

const J = JSON.stringify;
const WIRE = {
  double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5,
  int64: 0, uint64: 0, sint64: 0, fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2,
};
const PACKABLE = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool']);
const LONG = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** The runtime the generated functions share: a growable writer and a reader over a Buffer. */
const RUNTIME = String.raw`
const Buf = Buffer;
const isObject = (v) => v !== null && v !== undefined && v !== false && typeof v === 'object';
const MAX_DEPTH = 100;
class W {
  constructor(n) { this.b = Buf.allocUnsafe(n); this.p = 0; }
  need(n) {
    if (this.p + n <= this.b.length) return;
    const nb = Buf.allocUnsafe(Math.max(this.b.length * 2, this.p + n + 64));
    this.b.copy(nb, 0, 0, this.p);
    this.b = nb;
  }
  finish() { return this.b.subarray(0, this.p); }
}
function wv(w, v) {
  w.need(5);
  const b = w.b; let p = w.p;
  while (v > 127) { b[p++] = (v & 127) | 128; v >>>= 7; }
  b[p++] = v;
  w.p = p;
}
let LO = 0, HI = 0;
function bits(v, unsigned) {
  if (typeof v === 'string') v = parseInt(v, 10);
  else if (typeof v === 'bigint') { const u = BigInt.asUintN(64, v); LO = Number(u & 0xffffffffn); HI = Number(u >> 32n); return; }
  else if (typeof v === 'object' && v !== null) { LO = v.low >>> 0; HI = v.high >>> 0; return; }
  else v = Number(v);
  if (!Number.isFinite(v)) { LO = 0; HI = 0; return; }
  v = Math.trunc(v);
  if (unsigned && v < 0) v = 0;
  const neg = v < 0;
  if (neg) v = -v;
  let lo = v >>> 0, hi = ((v - lo) / 4294967296) >>> 0;
  if (neg) { hi = ~hi >>> 0; lo = ~lo >>> 0; if (++lo > 4294967295) { lo = 0; if (++hi > 4294967295) hi = 0; } }
  LO = lo; HI = hi;
}
function wv64(w, lo, hi) {
  w.need(10);
  const b = w.b; let p = w.p;
  while (hi) { b[p++] = (lo & 127) | 128; lo = ((lo >>> 7) | (hi << 25)) >>> 0; hi >>>= 7; }
  while (lo > 127) { b[p++] = (lo & 127) | 128; lo >>>= 7; }
  b[p++] = lo;
  w.p = p;
}
function wi32(w, v) { if (v < 0) wv64(w, v >>> 0, 4294967295); else wv(w, v); }
function wz32(w, v) { wv(w, ((v << 1) ^ (v >> 31)) >>> 0); }
function wz64(w) { const m = HI >> 31; wv64(w, ((LO << 1) ^ m) >>> 0, (((HI << 1) | (LO >>> 31)) ^ m) >>> 0); }
function wf32(w, v) { w.need(4); w.b.writeUInt32LE(v >>> 0, w.p); w.p += 4; }
function wf64(w) { w.need(8); w.b.writeUInt32LE(LO, w.p); w.b.writeUInt32LE(HI, w.p + 4); w.p += 8; }
function wdbl(w, v) { w.need(8); w.b.writeDoubleLE(v, w.p); w.p += 8; }
function wflt(w, v) { w.need(4); w.b.writeFloatLE(v, w.p); w.p += 4; }
function wstr(w, s) {
  const n = Buf.byteLength(s);
  wv(w, n);
  w.need(n);
  w.p += n < 48 ? w.b.write(s, w.p, 'utf8') : w.b.utf8Write(s, w.p);
}
function wbytes(w, v) {
  const n = v.length;
  wv(w, n);
  if (n) { w.need(n); w.b.set(v, w.p); w.p += n; }
}
function bytesOf(v) {
  if (typeof v === 'string') return Buf.from(v, 'base64');
  return v.length >= 0 ? v : undefined;
}
/** Starts a length-delimited value: reserves 5 bytes for its length. */
function fork(w) { w.need(5); w.p += 5; return w.p; }
/** Ends it: writes the length and closes the gap left by a shorter varint. */
function ldelim(w, start) {
  let len = w.p - start;
  let n = 1;
  for (let v = len; v > 127; v >>>= 7) n++;
  const at = start - 5;
  if (n < 5) w.b.copyWithin(at + n, start, w.p);
  const b = w.b; let p = at;
  while (len > 127) { b[p++] = (len & 127) | 128; len >>>= 7; }
  b[p] = len;
  w.p -= 5 - n;
}
function oor(r, n) { return RangeError('index out of range: ' + r.p + ' + ' + (n || 1) + ' > ' + r.l); }
class R {
  constructor(b) { this.b = b; this.p = 0; this.l = b.length; }
}
function rv(r) {
  const b = r.b; let p = r.p;
  let c = b[p++]; let v = c & 127;
  if (c > 127) { c = b[p++]; v |= (c & 127) << 7;
  if (c > 127) { c = b[p++]; v |= (c & 127) << 14;
  if (c > 127) { c = b[p++]; v |= (c & 127) << 21;
  if (c > 127) { c = b[p++]; v |= (c & 15) << 28;
  if (c > 127) { for (let i = 0; i < 5 && c > 127; i++) c = b[p++]; if (c > 127) throw Error('invalid varint encoding'); } } } } }
  if (p > r.l) { r.p = r.l; throw oor(r); }
  r.p = p;
  return v >>> 0;
}
function rv64(r) {
  const b = r.b; let p = r.p; let lo = 0, hi = 0, c = 0, i = 0;
  for (; i < 4; i++) { c = b[p++]; lo = (lo | ((c & 127) << (i * 7))) >>> 0; if (c < 128) break; }
  if (i === 4) {
    c = b[p++]; lo = (lo | ((c & 127) << 28)) >>> 0; hi = (c & 127) >> 4;
    if (c > 127) {
      for (i = 0; i < 5; i++) { c = b[p++]; hi = (hi | ((c & 127) << (i * 7 + 3))) >>> 0; if (c < 128) break; }
      if (i === 5) throw Error('invalid varint encoding');
    }
  }
  if (p > r.l) { r.p = r.l; throw oor(r); }
  r.p = p; LO = lo; HI = hi;
}
function num(unsigned) {
  if (!unsigned && HI >>> 31) {
    const lo = (~LO + 1) >>> 0; let hi = ~HI >>> 0;
    if (!lo) hi = (hi + 1) >>> 0;
    return -(lo + hi * 4294967296);
  }
  return LO + HI * 4294967296;
}
function rz64() { const m = -(LO & 1); const lo = (((LO >>> 1) | (HI << 31)) ^ m) >>> 0; HI = ((HI >>> 1) ^ m) >>> 0; LO = lo; }
function rf32(r) { if (r.p + 4 > r.l) throw oor(r, 4); const v = r.b.readUInt32LE(r.p); r.p += 4; return v; }
function rf64(r) { if (r.p + 8 > r.l) throw oor(r, 8); LO = r.b.readUInt32LE(r.p); HI = r.b.readUInt32LE(r.p + 4); r.p += 8; }
function rdbl(r) { if (r.p + 8 > r.l) throw oor(r, 8); const v = r.b.readDoubleLE(r.p); r.p += 8; return v; }
function rflt(r) { if (r.p + 4 > r.l) throw oor(r, 4); const v = r.b.readFloatLE(r.p); r.p += 4; return v; }
function rstr(r) {
  const n = rv(r);
  const s = r.p, e = Math.min(s + n, r.l);
  r.p = e;
  return r.b.utf8Slice(s, e);
}
function rbytes(r) {
  const n = rv(r);
  const s = r.p, e = s + n;
  if (e > r.l) throw oor(r, n);
  r.p = e;
  return s === e ? Buf.alloc(0) : r.b.subarray(s, e);
}
function rlen(r) { const n = rv(r); const e = r.p + n; if (e > r.l) throw oor(r, n); return e; }
function skip(r, wt) {
  switch (wt) {
    case 0: while (r.p < r.l && r.b[r.p++] & 128); break;
    case 1: r.p += 8; break;
    case 2: r.p = rlen(r); break;
    case 3: for (let t; (t = rv(r) & 7) !== 4; ) skip(r, t); break;
    case 5: r.p += 4; break;
    default: throw Error('invalid wire type ' + wt + ' at offset ' + r.p);
  }
  if (r.p > r.l) throw oor(r);
}
function setKey(o, k, v) {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}
function decoder(read) {
  return (buf) => { const r = new R(buf); return read(r, r.l, 0); };
}
function serializer(write, name) {
  return (arg) => {
    if (Array.isArray(arg)) throw new Error('Failed to serialize message: expected object with ' + name + ' structure, got array instead');
    const w = new W(256);
    write(w, arg, 0);
    return w.finish();
  };
}
`;

/** Expression converting plain value `v` as protobufjs's fromObject does (scalars only). */
function convert(type, v) {
  switch (type) {
    case 'double':
    case 'float':
      return `Number(${v})`;
    case 'uint32':
    case 'fixed32':
      return `${v} >>> 0`;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return `${v} | 0`;
    case 'bool':
      return `Boolean(${v})`;
    case 'string':
      return `String(${v})`;
    default:
      throw new Error(`gen-rpc: no conversion for ${type}`);
  }
}

/** Statements writing scalar `v` (already converted, longs not yet) with no tag. */
function writeScalar(type, v) {
  switch (type) {
    case 'double': return `wdbl(w, ${v});`;
    case 'float': return `wflt(w, ${v});`;
    case 'int32': return `wi32(w, ${v});`;
    case 'uint32': return `wv(w, ${v});`;
    case 'sint32': return `wz32(w, ${v});`;
    case 'fixed32':
    case 'sfixed32': return `wf32(w, ${v});`;
    case 'bool': return `w.need(1); w.b[w.p++] = ${v} ? 1 : 0;`;
    case 'string': return `wstr(w, ${v});`;
    case 'int64': return `bits(${v}, false); wv64(w, LO, HI);`;
    case 'uint64': return `bits(${v}, true); wv64(w, LO, HI);`;
    case 'sint64': return `bits(${v}, false); wz64(w);`;
    case 'fixed64': return `bits(${v}, true); wf64(w);`;
    case 'sfixed64': return `bits(${v}, false); wf64(w);`;
    default: throw new Error(`gen-rpc: cannot write ${type}`);
  }
}

/** An expression reading a scalar from `r`. */
function readScalar(type) {
  switch (type) {
    case 'double': return 'rdbl(r)';
    case 'float': return 'rflt(r)';
    case 'int32': return '(rv(r) | 0)';
    case 'uint32': return 'rv(r)';
    case 'sint32': return '((v) => (v >>> 1) ^ -(v & 1))(rv(r))';
    case 'fixed32': return 'rf32(r)';
    case 'sfixed32': return '(rf32(r) | 0)';
    case 'bool': return '(rv(r) !== 0)';
    case 'string': return 'rstr(r)';
    case 'bytes': return 'rbytes(r)';
    case 'int64': return '(rv64(r), num(false))';
    case 'uint64': return '(rv64(r), num(true))';
    case 'sint64': return '(rv64(r), rz64(), num(false))';
    case 'fixed64': return '(rf64(r), num(true))';
    case 'sfixed64': return '(rf64(r), num(false))';
    default: throw new Error(`gen-rpc: cannot read ${type}`);
  }
}

function zeroOf(type) {
  if (type === 'string') return '""';
  if (type === 'bool') return 'false';
  if (type === 'bytes') return 'Buf.alloc(0)';
  return '0';
}

/**
 * Generates the module text for every message type and service under `root` (a resolved
 * protobufjs Root loaded with keepCase).
 */
export function generateRpcModule(root) {
  root.resolveAll();
  const types = [];
  const services = [];
  const walk = (ns) => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) types.push(obj);
      else if (obj instanceof protobuf.Service) services.push(obj);
      else if (obj instanceof protobuf.Enum) continue;
      if (obj.nestedArray) walk(obj);
    }
  };
  walk(root);
  const idx = new Map(types.map((t, i) => [t, i]));
  const out = ['// Generated by scripts/gen-rpc.mjs from proto/*.proto at build time. Do not edit.', RUNTIME];

  const enumValue = (e, v) => {
    // fromObject's switch: a known name or number maps to its number; another number passes
    // through; anything else leaves the field unset (singular) or the zero value (repeated).
    const cases = Object.entries(e.values).map(([k, n]) => `case ${J(k)}: case ${n}: return ${n};`).join(' ');
    return `((x) => { switch (x) { ${cases} default: return typeof x === 'number' ? x : undefined; } })(${v})`;
  };

  for (const t of types) {
    const i = idx.get(t);
    const fields = t.fieldsArray.slice().sort((a, b) => a.id - b.id);
    // ----- encode
    const enc = [`function e${i}(w, d, q) {`];
    if (fields.length) {
      enc.push(`  if (!isObject(d)) throw TypeError(${J(`${t.fullName}: object expected`)});`);
      enc.push(`  if (q > MAX_DEPTH) throw Error('maximum nesting depth exceeded');`);
      enc.push('  let v;');
    }
    for (const f of fields) {
      f.resolve();
      const get = `d[${J(f.name)}]`;
      const rt = f.resolvedType;
      const isMsg = rt instanceof protobuf.Type;
      const isEnum = rt instanceof protobuf.Enum;
      const tag = (wt) => (f.id << 3) | wt;
      if (f.map) {
        if (f.keyType !== 'string') throw new Error(`gen-rpc: map key ${f.keyType} in ${f.fullName} is not supported`);
        enc.push(`  v = ${get};`);
        enc.push(`  if (v) {`);
        enc.push(`    if (!isObject(v)) throw TypeError(${J(`${f.fullName}: object expected`)});`);
        enc.push(`    for (const k of Object.keys(v)) {`);
        enc.push(`      let x = v[k];`);
        enc.push(`      wv(w, ${tag(2)}); const s = fork(w); wv(w, 10); wstr(w, k);`);
        if (isMsg) {
          enc.push(`      if (!isObject(x)) throw TypeError(${J(`${f.fullName}: object expected`)});`);
          enc.push(`      wv(w, 18); const s2 = fork(w); e${idx.get(rt)}(w, x, q + 1); ldelim(w, s2);`);
        } else if (isEnum) {
          enc.push(`      x = ${enumValue(rt, 'x')}; if (x === undefined) x = ${rt.values[Object.keys(rt.values)[0]]};`);
          enc.push(`      wv(w, 16); wi32(w, x);`);
        } else if (f.type === 'bytes') {
          enc.push(`      x = bytesOf(x); wv(w, 18); wbytes(w, x);`);
        } else {
          enc.push(`      wv(w, ${16 | WIRE[f.type]}); ${LONG.has(f.type) ? '' : `x = ${convert(f.type, 'x')};`} ${writeScalar(f.type, 'x')}`);
        }
        enc.push(`      ldelim(w, s);`);
        enc.push(`    }`);
        enc.push(`  }`);
      } else if (f.repeated) {
        enc.push(`  v = ${get};`);
        enc.push(`  if (v) {`);
        enc.push(`    if (!Array.isArray(v)) throw TypeError(${J(`${f.fullName}: array expected`)});`);
        enc.push(`    if (v.length) {`);
        if (isMsg) {
          enc.push(`      for (const x of v) {`);
          enc.push(`        if (!isObject(x)) throw TypeError(${J(`${f.fullName}: object expected`)});`);
          enc.push(`        wv(w, ${tag(2)}); const s = fork(w); e${idx.get(rt)}(w, x, q + 1); ldelim(w, s);`);
          enc.push(`      }`);
        } else if (isEnum) {
          const zero = Object.values(rt.values)[0];
          enc.push(`      wv(w, ${tag(2)}); const s = fork(w);`);
          enc.push(`      for (let x of v) { x = ${enumValue(rt, 'x')}; wi32(w, x === undefined ? ${zero} : x); }`);
          enc.push(`      ldelim(w, s);`);
        } else if (f.type === 'bytes') {
          enc.push(`      for (const x of v) { const y = bytesOf(x); if (y !== undefined) { wv(w, ${tag(2)}); wbytes(w, y); } }`);
        } else if (f.type === 'string') {
          enc.push(`      for (const x of v) { wv(w, ${tag(2)}); wstr(w, String(x)); }`);
        } else if (PACKABLE.has(f.type) && f.packed !== false) {
          enc.push(`      wv(w, ${tag(2)}); const s = fork(w);`);
          enc.push(`      for (let x of v) { ${LONG.has(f.type) ? '' : `x = ${convert(f.type, 'x')};`} ${writeScalar(f.type, 'x')} }`);
          enc.push(`      ldelim(w, s);`);
        } else {
          enc.push(`      for (let x of v) { ${LONG.has(f.type) ? '' : `x = ${convert(f.type, 'x')};`} wv(w, ${tag(WIRE[f.type])}); ${writeScalar(f.type, 'x')} }`);
        }
        enc.push(`    }`);
        enc.push(`  }`);
      } else if (isEnum) {
        enc.push(`  v = ${enumValue(rt, get)};`);
        enc.push(`  if (v !== undefined) { wv(w, ${tag(0)}); wi32(w, v); }`);
      } else {
        enc.push(`  v = ${get};`);
        enc.push(`  if (v != null) {`);
        if (isMsg) {
          enc.push(`    if (!isObject(v)) throw TypeError(${J(`${f.fullName}: object expected`)});`);
          enc.push(`    wv(w, ${tag(2)}); const s = fork(w); e${idx.get(rt)}(w, v, q + 1); ldelim(w, s);`);
        } else if (f.type === 'bytes') {
          enc.push(`    v = bytesOf(v); if (v !== undefined) { wv(w, ${tag(2)}); wbytes(w, v); }`);
        } else {
          enc.push(`    ${LONG.has(f.type) ? '' : `v = ${convert(f.type, 'v')};`} wv(w, ${tag(WIRE[f.type])}); ${writeScalar(f.type, 'v')}`);
        }
        enc.push(`  }`);
      }
    }
    enc.push('}');
    out.push(enc.join('\n'));

    // ----- decode
    const dec = [`function r${i}(r, l, n) {`];
    dec.push(`  if (n > MAX_DEPTH) throw Error('maximum nesting depth exceeded');`);
    // Key order as protobufjs's toObject builds it: repeated, maps, then other non-oneof fields.
    const init = [];
    for (const f of fields) if (!f.partOf && f.repeated) init.push(`${J(f.name)}: []`);
    for (const f of fields) if (!f.partOf && f.map) init.push(`${J(f.name)}: {}`);
    for (const f of fields) {
      if (f.partOf || f.repeated || f.map) continue;
      const rt = f.resolvedType;
      if (rt instanceof protobuf.Type) init.push(`${J(f.name)}: null`);
      else if (rt instanceof protobuf.Enum) init.push(`${J(f.name)}: ${J(rt.valuesById[Object.values(rt.values)[0]])}`);
      else init.push(`${J(f.name)}: ${zeroOf(f.type)}`);
    }
    dec.push(`  const d = { ${init.join(', ')} };`);
    dec.push('  while (r.p < l) {');
    dec.push('    const t = rv(r);');
    dec.push('    switch (t >>> 3) {');
    for (const f of fields) {
      const rt = f.resolvedType;
      const isMsg = rt instanceof protobuf.Type;
      const isEnum = rt instanceof protobuf.Enum;
      const key = J(f.name);
      const enumName = (x) => `((x) => { const s = ${J(rt?.valuesById ?? {})}[x]; return s === undefined ? x : s; })(${x})`;
      const readOne = isMsg ? `r${idx.get(rt)}(r, rlen(r), n + 1)` : isEnum ? enumName('(rv(r) | 0)') : readScalar(f.type);
      dec.push(`      case ${f.id}: {`);
      if (f.map) {
        const vread = isMsg ? `r${idx.get(rt)}(r, rlen(r), n + 1)` : isEnum ? '(rv(r) | 0)' : readScalar(f.type);
        const vzero = isMsg ? 'null' : isEnum ? '0' : zeroOf(f.type);
        dec.push(`        const e = rlen(r); let k = ""; let x = ${vzero};`);
        dec.push(`        while (r.p < e) { const t2 = rv(r); switch (t2 >>> 3) { case 1: k = rstr(r); break; case 2: x = ${vread}; break; default: skip(r, t2 & 7); } }`);
        if (isEnum) dec.push(`        x = ${enumName('x')};`);
        dec.push(`        setKey(d[${key}], k, x);`);
      } else if (f.repeated) {
        if ((PACKABLE.has(f.type) || isEnum) && !isMsg) {
          dec.push(`        if ((t & 7) === 2) { const e = rlen(r); while (r.p < e) d[${key}].push(${readOne}); } else d[${key}].push(${readOne});`);
        } else {
          dec.push(`        d[${key}].push(${readOne});`);
        }
      } else {
        dec.push(`        d[${key}] = ${readOne};`);
        if (f.partOf) dec.push(`        d[${J(f.partOf.name)}] = ${key};`);
      }
      dec.push('        break;');
      dec.push('      }');
    }
    dec.push('      default: skip(r, t & 7);');
    dec.push('    }');
    dec.push('  }');
    dec.push('  return d;');
    dec.push('}');
    out.push(dec.join('\n'));
  }

  // ----- services: grpc-js method tables, as proto-loader's package definition has them.
  const svc = [];
  const codecs = new Set();
  for (const s of services) {
    const name = s.fullName.replace(/^\./, '');
    const methods = s.methodsArray.map((m) => {
      m.resolve();
      const req = idx.get(m.resolvedRequestType);
      const res = idx.get(m.resolvedResponseType);
      codecs.add(req);
      codecs.add(res);
      return `    ${J(m.name)}: { path: ${J(`/${name}/${m.name}`)}, requestStream: ${!!m.requestStream}, responseStream: ${!!m.responseStream}, requestSerialize: s${req}, requestDeserialize: d${req}, responseSerialize: s${res}, responseDeserialize: d${res}, originalName: ${J(camelCase(m.name))} },`;
    });
    svc.push(`  ${J(name)}: {\n${methods.join('\n')}\n  },`);
  }
  for (const i of [...codecs].sort((a, b) => a - b)) {
    out.push(`const s${i} = serializer(e${i}, ${J(types[i].name)});\nconst d${i} = decoder(r${i});`);
  }
  out.push(`/** Service full name → method table (a grpc-js ServiceDefinition). */\nexport const services = {\n${svc.join('\n')}\n};`);
  return out.join('\n\n') + '\n';
}
