/**
 * Go's text/template, as Docker's `--format` flags run it: the whole action language (pipelines,
 * variables, if/else if/with/range/break/continue, define/template/block, trim markers,
 * comments), Go's builtin functions and Docker's extra ones (json, join, split, title, lower,
 * upper, pad, truncate). Data is JS values standing in for Go's: objects and Maps are maps, so a
 * missing key prints `<no value>` rather than failing, like Docker's inspect fallback.
 *
 * Messages mirror Go's, e.g. `template: :1: unclosed action` and
 * `template: :1:7: executing "" at <.Name.Foo>: can't evaluate field Foo in type string`.
 */
import { invalidArgument } from '../../common/errors';
import {
  compareStrings,
  formatValue,
  goKind,
  goStructType,
  goTypeName,
  quoteGo,
  sortedMapEntries,
  sprint,
  sprintf,
  sprintln,
  toGoJson,
} from './gofmt';

/** A function callable from a template; its result is the command's value, a throw is an error. */
export type TemplateFunction = (...args: any[]) => unknown;
export type TemplateFunctions = Record<string, TemplateFunction>;

export interface ExecuteOptions {
  /** Replaces functions of the same name (they must have existed when the template was compiled). */
  funcs?: TemplateFunctions;
  /** Return what was written before an error instead of throwing (Docker does this for headers). */
  ignoreErrors?: boolean;
}

export interface Template {
  readonly name: string;
  readonly source: string;
  /**
   * True when the template only prints top-level fields of its data (`a {{.ID}}\t{{.Name}}`), so
   * nothing can observe the data's key order; list commands skip sorting rows for it.
   */
  readonly fieldsOnly: boolean;
  execute(data: unknown, options?: ExecuteOptions): string;
}

// =============================================================================================
// Lexer

type ItemType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'identifier'
  | 'keyword'
  | 'field'
  | 'variable'
  | 'dot'
  | 'string'
  | 'rawString'
  | 'charConstant'
  | 'number'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare'
  | 'assign'
  | 'char'
  | 'eof'
  | 'error';

interface Item {
  type: ItemType;
  value: string;
  pos: number;
  line: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const LEFT_DELIM = '{{';
const RIGHT_DELIM = '}}';

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlphaNumeric = (c: string | undefined): boolean => c !== undefined && (c === '_' || /^[\p{L}\p{Nd}]$/u.test(c));
const hasLeftTrimMarker = (s: string, at: number): boolean => s[at] === '-' && isSpace(s[at + 1]);
const hasRightTrimMarker = (s: string, at: number): boolean => isSpace(s[at]) && s[at + 1] === '-';

function describeRune(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

/** Splits the source into items; a lexical error becomes the last item, where the parser meets it. */
function lex(input: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;

  const emit = (type: ItemType): void => {
    items.push({ type, value: input.slice(start, pos), pos: start, line: startLine });
    start = pos;
    startLine = line;
  };
  const ignore = (): void => {
    for (let i = start; i < pos; i++) if (input[i] === '\n') line++;
    start = pos;
    startLine = line;
  };
  const advance = (n: number): void => {
    for (let i = pos; i < pos + n && i < input.length; i++) if (input[i] === '\n') line++;
    pos += n;
  };
  const fail = (message: string): void => {
    items.push({ type: 'error', value: message, pos: start, line: startLine });
  };
  const peekRune = (): string | undefined => {
    const cp = input.codePointAt(pos);
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  };
  const atRightDelim = (): { delim: boolean; trim: boolean } => {
    if (hasRightTrimMarker(input, pos) && input.startsWith(RIGHT_DELIM, pos + 2)) return { delim: true, trim: true };
    return { delim: input.startsWith(RIGHT_DELIM, pos), trim: false };
  };
  const atTerminator = (): boolean => {
    const c = input[pos];
    if (c === undefined || isSpace(c)) return true;
    if ('.,|:()'.includes(c)) return true;
    return input.startsWith(RIGHT_DELIM, pos);
  };
  const skipLeadingSpace = (): void => {
    while (isSpace(input[pos])) advance(1);
    ignore();
  };
  const acceptRun = (chars: string): void => {
    while (pos < input.length && chars.includes(input[pos] ?? '')) pos++;
  };
  const accept = (chars: string): boolean => {
    if (pos < input.length && chars.includes(input[pos] ?? '')) {
      pos++;
      return true;
    }
    return false;
  };

  /** Lexes one action's contents; false after an error. */
  const lexInsideAction = (): boolean => {
    for (;;) {
      const { delim, trim } = atRightDelim();
      if (delim) {
        if (trim) {
          advance(2);
          ignore();
        }
        if (parenDepth > 0) {
          fail('unclosed left paren');
          return false;
        }
        advance(RIGHT_DELIM.length);
        emit('rightDelim');
        if (trim) skipLeadingSpace();
        return true;
      }
      const c = peekRune();
      if (c === undefined) {
        fail('unclosed action');
        return false;
      }
      if (isSpace(c)) {
        let spaces = 0;
        while (isSpace(input[pos])) {
          advance(1);
          spaces++;
        }
        // " -}}" belongs to the closing delimiter, not to the space run.
        if (hasRightTrimMarker(input, pos - 1) && input.startsWith(RIGHT_DELIM, pos + 1)) {
          pos--;
          if (input[pos] === '\n') line--;
          if (spaces === 1) continue;
        }
        emit('space');
        continue;
      }
      pos += c.length;
      if (c === '=') emit('assign');
      else if (c === ':') {
        if (input[pos] !== '=') {
          fail('expected :=');
          return false;
        }
        pos++;
        emit('declare');
      } else if (c === '|') emit('pipe');
      else if (c === '"' || c === "'") {
        for (;;) {
          const d = input[pos];
          pos++;
          if (d === '\\') {
            const e = input[pos];
            if (e !== undefined && e !== '\n') {
              pos++;
              continue;
            }
          }
          if (d === undefined || d === '\n' || d === '\\') {
            fail(c === '"' ? 'unterminated quoted string' : 'unterminated character constant');
            return false;
          }
          if (d === c) break;
        }
        emit(c === '"' ? 'string' : 'charConstant');
      } else if (c === '`') {
        const end = input.indexOf('`', pos);
        if (end < 0) {
          fail('unterminated raw quoted string');
          return false;
        }
        advance(end + 1 - pos);
        emit('rawString');
      } else if (c === '$' || (c === '.' && !/[0-9]/.test(input[pos] ?? ''))) {
        if (atTerminator()) emit(c === '$' ? 'variable' : 'dot');
        else {
          while (isAlphaNumeric(peekRune())) pos += (peekRune() ?? '').length;
          if (!atTerminator()) {
            fail(`bad character ${describeRune(peekRune() ?? '')}`);
            return false;
          }
          emit(c === '$' ? 'variable' : 'field');
        }
      } else if (c === '.' || c === '+' || c === '-' || (c >= '0' && c <= '9')) {
        pos = start;
        accept('+-');
        let digits = '0123456789_';
        if (accept('0')) {
          if (accept('xX')) digits = '0123456789abcdefABCDEF_';
          else if (accept('oO')) digits = '01234567_';
          else if (accept('bB')) digits = '01_';
        }
        acceptRun(digits);
        if (accept('.')) acceptRun(digits);
        if (digits.length === 11 && accept('eE')) {
          accept('+-');
          acceptRun('0123456789_');
        }
        if (digits.length === 23 && accept('pP')) {
          accept('+-');
          acceptRun('0123456789_');
        }
        accept('i');
        if (isAlphaNumeric(peekRune())) {
          pos += (peekRune() ?? '').length;
          fail(`bad number syntax: ${quoteGo(input.slice(start, pos))}`);
          return false;
        }
        emit('number');
      } else if (isAlphaNumeric(c)) {
        while (isAlphaNumeric(peekRune())) pos += (peekRune() ?? '').length;
        if (!atTerminator()) {
          fail(`bad character ${describeRune(peekRune() ?? '')}`);
          return false;
        }
        const word = input.slice(start, pos);
        if (KEYWORDS.has(word)) emit('keyword');
        else if (word === 'true' || word === 'false') emit('bool');
        else if (word === 'nil') emit('nil');
        else emit('identifier');
      } else if (c === '(') {
        parenDepth++;
        emit('leftParen');
      } else if (c === ')') {
        parenDepth--;
        if (parenDepth < 0) {
          fail('unexpected right paren');
          return false;
        }
        emit('rightParen');
      } else if (c.codePointAt(0)! < 0x7f && c >= ' ') emit('char');
      else {
        fail(`unrecognized character in action: ${describeRune(c)}`);
        return false;
      }
    }
  };

  while (pos < input.length) {
    const delimAt = input.indexOf(LEFT_DELIM, pos);
    if (delimAt < 0) {
      advance(input.length - pos);
      emit('text');
      break;
    }
    let textEnd = delimAt;
    const trimLeft = hasLeftTrimMarker(input, delimAt + LEFT_DELIM.length);
    if (trimLeft) while (textEnd > start && isSpace(input[textEnd - 1])) textEnd--;
    if (textEnd > start) {
      advance(textEnd - pos);
      emit('text');
    }
    advance(delimAt - pos);
    ignore();
    advance(LEFT_DELIM.length);
    const afterMarker = trimLeft ? 2 : 0;
    if (input.startsWith('/*', pos + afterMarker)) {
      advance(afterMarker + 2);
      const end = input.indexOf('*/', pos);
      if (end < 0) {
        fail('unclosed comment');
        return items;
      }
      advance(end + 2 - pos);
      const { delim, trim } = atRightDelim();
      if (!delim) {
        fail('comment ends before closing delimiter');
        return items;
      }
      advance((trim ? 2 : 0) + RIGHT_DELIM.length);
      ignore();
      if (trim) skipLeadingSpace();
      continue;
    }
    emit('leftDelim');
    advance(afterMarker);
    ignore();
    parenDepth = 0;
    if (!lexInsideAction()) return items;
  }
  items.push({ type: 'eof', value: '', pos, line });
  return items;
}

// =============================================================================================
// Parse tree

interface FieldNode {
  kind: 'field';
  pos: number;
  idents: string[];
}
interface VariableNode {
  kind: 'variable';
  pos: number;
  idents: string[]; // idents[0] is the variable's name, including `$`
}
interface ChainNode {
  kind: 'chain';
  pos: number;
  node: ArgNode;
  fields: string[];
}
interface IdentifierNode {
  kind: 'identifier';
  pos: number;
  name: string;
}
interface LiteralNode {
  kind: 'dot' | 'nil' | 'bool' | 'number' | 'string';
  pos: number;
  text: string;
  value: unknown;
}
interface CommandNode {
  kind: 'command';
  pos: number;
  args: ArgNode[];
}
interface PipeNode {
  kind: 'pipe';
  pos: number;
  line: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
type ArgNode = FieldNode | VariableNode | ChainNode | IdentifierNode | LiteralNode | PipeNode;

interface ListNode {
  kind: 'list';
  pos: number;
  nodes: Node[];
}
interface ControlNode {
  kind: 'if' | 'with' | 'range';
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | undefined;
}
type Node =
  | { kind: 'text'; pos: number; text: string }
  | { kind: 'action'; pos: number; pipe: PipeNode }
  | ControlNode
  | { kind: 'template'; pos: number; name: string; pipe: PipeNode | undefined }
  | { kind: 'break' | 'continue'; pos: number }
  | ListNode;

type Terminator = { kind: 'end' | 'else'; pos: number };
const isTerminator = (node: Node | Terminator): node is Terminator => node.kind === 'end' || node.kind === 'else';

function argString(node: ArgNode): string {
  switch (node.kind) {
    case 'field':
      return node.idents.map((i) => `.${i}`).join('');
    case 'variable':
      return node.idents.join('.');
    case 'chain':
      return (node.node.kind === 'pipe' ? `(${argString(node.node)})` : argString(node.node)) + node.fields.map((f) => `.${f}`).join('');
    case 'identifier':
      return node.name;
    case 'pipe': {
      const decl = node.decl.length > 0 ? `${node.decl.map(argString).join(', ')} ${node.isAssign ? '=' : ':='} ` : '';
      return decl + node.cmds.map(commandString).join(' | ');
    }
    default:
      return node.text;
  }
}

function commandString(cmd: CommandNode): string {
  return cmd.args.map((a) => (a.kind === 'pipe' ? `(${argString(a)})` : argString(a))).join(' ');
}

function nodeString(node: Node | CommandNode | ArgNode): string {
  switch (node.kind) {
    case 'command':
      return commandString(node);
    case 'text':
      return quoteGo(node.text);
    case 'action':
      return `{{${argString(node.pipe)}}}`;
    case 'if':
    case 'with':
    case 'range':
      return `{{${node.kind} ${argString(node.pipe)}}}`;
    case 'template':
      return `{{template ${quoteGo(node.name)}${node.pipe ? ` ${argString(node.pipe)}` : ''}}}`;
    case 'break':
    case 'continue':
      return `{{${node.kind}}}`;
    case 'list':
      return node.nodes.map(nodeString).join('');
    default:
      return argString(node);
  }
}

// =============================================================================================
// Parser

class ParseError extends Error {}

function unquoteGo(text: string): string {
  const quote = text[0];
  const body = text.slice(1, -1);
  if (quote === '`') return body.replace(/\r/g, '');
  let out = '';
  for (let i = 0; i < body.length; ) {
    const c = body[i] ?? '';
    if (c !== '\\') {
      const cp = body.codePointAt(i) ?? 0;
      out += String.fromCodePoint(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (e !== undefined && simple[e] !== undefined) out += simple[e];
    else if (e === quote) out += e;
    else if (e === 'x' || e === 'u' || e === 'U') {
      const length = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i, i + length);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== length) throw new ParseError('invalid syntax');
      const cp = parseInt(hex, 16);
      if (e !== 'x' && (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) throw new ParseError('invalid syntax');
      out += e === 'x' ? Buffer.from([cp]).toString('latin1') : String.fromCodePoint(cp);
      i += length;
    } else if (e !== undefined && e >= '0' && e <= '7') {
      const oct = body.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw new ParseError('invalid syntax');
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else throw new ParseError('invalid syntax');
  }
  if (quote === "'" && [...out].length !== 1) throw new ParseError('invalid syntax');
  return out;
}

function parseNumber(text: string, isChar: boolean): { value: number; isFloat: boolean } {
  if (isChar) return { value: unquoteGo(text).codePointAt(0) ?? 0, isFloat: false };
  if (text.endsWith('i')) throw new ParseError(`complex numbers are not supported: ${quoteGo(text)}`);
  const negative = text.startsWith('-');
  const unsigned = text.replace(/^[+-]/, '');
  const clean = unsigned.includes('_') ? (/^0[xXbBoO]?[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/.test(unsigned) ? unsigned.replace(/_/g, '') : '') : unsigned;
  let value: number | undefined;
  let isFloat = false;
  if (/^0[xX][0-9a-fA-F]+$/.test(clean) || /^0[bB][01]+$/.test(clean) || /^0[oO][0-7]+$/.test(clean)) {
    value = Number(clean.replace(/^0[oO]/, '0o'));
  } else if (/^0[0-7]*$/.test(clean)) value = parseInt(clean, 8);
  else if (/^[1-9][0-9]*$/.test(clean)) value = Number(clean);
  else if (/^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(clean)) {
    value = Number(clean);
    isFloat = true;
  }
  if (value === undefined || Number.isNaN(value)) throw new ParseError(`illegal number syntax: ${quoteGo(text)}`);
  return { value: negative ? -value : value, isFloat };
}

interface ParsedSet {
  trees: Map<string, ListNode>;
}

class Parser {
  private index = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private lastItem: Item | undefined;

  constructor(
    private readonly items: Item[],
    private readonly name: string,
    private readonly functions: ReadonlySet<string>,
    private readonly set: ParsedSet,
  ) {}

  private fail(message: string): never {
    throw new ParseError(`template: ${this.name}:${this.lastItem?.line ?? 1}: ${message}`);
  }

  private next(): Item {
    const item = this.items[this.index] ?? this.items[this.items.length - 1]!;
    if (this.index < this.items.length) this.index++;
    this.lastItem = item;
    if (item.type === 'error') this.fail(item.value);
    return item;
  }
  private backup(n = 1): void {
    this.index -= n;
  }
  private peek(): Item {
    const item = this.next();
    this.backup();
    return item;
  }
  private nextNonSpace(): Item {
    let item = this.next();
    while (item.type === 'space') item = this.next();
    return item;
  }
  private peekNonSpace(): Item {
    const before = this.index;
    const item = this.nextNonSpace();
    this.index = before;
    return item;
  }

  private unexpected(item: Item, context: string): never {
    this.fail(`unexpected ${describeItem(item)} in ${context}`);
  }
  private expect(type: ItemType, context: string): Item {
    const item = this.nextNonSpace();
    if (item.type !== type) this.unexpected(item, context);
    return item;
  }

  parseRoot(): ListNode {
    const root: ListNode = { kind: 'list', pos: 0, nodes: [] };
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'leftDelim') {
        const delimIndex = this.index;
        this.next();
        const keyword = this.nextNonSpace();
        if (keyword.type === 'keyword' && keyword.value === 'define') {
          this.parseDefinition();
          continue;
        }
        this.index = delimIndex;
      }
      const node = this.textOrAction();
      if (isTerminator(node)) this.fail(`unexpected {{${node.kind}}}`);
      root.nodes.push(node);
    }
    return root;
  }

  private parseDefinition(): void {
    const context = 'define clause';
    const nameItem = this.nextNonSpace();
    if (nameItem.type !== 'string' && nameItem.type !== 'rawString') this.unexpected(nameItem, context);
    const name = this.unquote(nameItem.value);
    this.expect('rightDelim', context);
    const outerVars = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    this.vars = outerVars;
    if (end.kind !== 'end') this.fail(`unexpected {{${end.kind}}} in ${context}`);
    this.addTemplate(name, list);
  }

  private addTemplate(name: string, list: ListNode): void {
    const existing = this.set.trees.get(name);
    // Like Go, an empty redefinition does not replace a template with content.
    if (existing && existing.nodes.length > 0 && isEmptyList(list)) return;
    this.set.trees.set(name, list);
  }

  private unquote(text: string): string {
    try {
      return unquoteGo(text);
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  private itemList(): [ListNode, Terminator] {
    const list: ListNode = { kind: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const node = this.textOrAction();
      if (isTerminator(node)) return [list, node];
      list.nodes.push(node);
    }
    this.fail('unexpected EOF');
  }

  private textOrAction(): Node | Terminator {
    const item = this.nextNonSpace();
    if (item.type === 'text') return { kind: 'text', pos: item.pos, text: item.value };
    if (item.type === 'leftDelim') return this.action();
    this.unexpected(item, 'input');
  }

  private action(): Node | Terminator {
    const item = this.nextNonSpace();
    if (item.type === 'keyword') {
      switch (item.value) {
        case 'block':
          return this.blockControl();
        case 'break':
        case 'continue': {
          const end = this.nextNonSpace();
          if (end.type !== 'rightDelim') this.unexpected(end, `{{${item.value}}}`);
          if (this.rangeDepth === 0) this.fail(`{{${item.value}}} outside {{range}}`);
          return { kind: item.value, pos: item.pos };
        }
        case 'else': {
          const peek = this.peekNonSpace();
          // "{{else if …}}" and "{{else with …}}" are "{{else}}{{if …}}" sharing one {{end}}.
          if (peek.type === 'keyword' && (peek.value === 'if' || peek.value === 'with')) return { kind: 'else', pos: peek.pos };
          const end = this.expect('rightDelim', 'else');
          return { kind: 'else', pos: end.pos };
        }
        case 'end': {
          const end = this.expect('rightDelim', 'end');
          return { kind: 'end', pos: end.pos };
        }
        case 'if':
        case 'with':
        case 'range':
          return this.control(item.value);
        case 'template':
          return this.templateControl();
        case 'define':
          this.unexpected(item, 'command');
      }
    }
    this.backup();
    const start = this.peek();
    return { kind: 'action', pos: start.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private control(context: 'if' | 'with' | 'range'): Node {
    const varsBefore = this.vars.length;
    const pipe = this.pipeline(context, 'rightDelim');
    if (context === 'range') this.rangeDepth++;
    const [list, next] = this.itemList();
    if (context === 'range') this.rangeDepth--;
    let elseList: ListNode | undefined;
    if (next.kind === 'else') {
      const peek = this.peekNonSpace();
      if (context !== 'range' && peek.type === 'keyword' && peek.value === context) {
        this.nextNonSpace();
        elseList = { kind: 'list', pos: next.pos, nodes: [this.control(context)] };
      } else {
        const [otherwise, end] = this.itemList();
        if (end.kind !== 'end') this.fail(`expected end; found {{${end.kind}}}`);
        elseList = otherwise;
      }
    }
    this.vars.length = varsBefore;
    return { kind: context, pos: pipe.pos, pipe, list, elseList };
  }

  private templateName(context: string): string {
    const item = this.nextNonSpace();
    if (item.type !== 'string' && item.type !== 'rawString') this.unexpected(item, context);
    return this.unquote(item.value);
  }

  private templateControl(): Node {
    const context = 'template clause';
    const pos = this.peekNonSpace().pos;
    const name = this.templateName(context);
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { kind: 'template', pos, name, pipe };
  }

  private blockControl(): Node {
    const context = 'block clause';
    const pos = this.peekNonSpace().pos;
    const name = this.templateName(context);
    const pipe = this.pipeline(context, 'rightDelim');
    const outerVars = this.vars;
    const outerRange = this.rangeDepth;
    this.vars = ['$'];
    this.rangeDepth = 0;
    const [list, end] = this.itemList();
    this.vars = outerVars;
    this.rangeDepth = outerRange;
    if (end.kind !== 'end') this.fail(`unexpected {{${end.kind}}} in ${context}`);
    this.addTemplate(name, list);
    return { kind: 'template', pos, name, pipe };
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const first = this.peekNonSpace();
    const pipe: PipeNode = { kind: 'pipe', pos: first.pos, line: first.line, isAssign: false, decl: [], cmds: [] };
    for (;;) {
      const variable = this.peekNonSpace();
      if (variable.type !== 'variable') break;
      const beforeVariable = this.index;
      this.nextNonSpace();
      const next = this.peekNonSpace();
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ kind: 'variable', pos: variable.pos, idents: [variable.value] });
        this.vars.push(variable.value);
        break;
      }
      if (next.type === 'char' && next.value === ',') {
        this.nextNonSpace();
        pipe.decl.push({ kind: 'variable', pos: variable.pos, idents: [variable.value] });
        this.vars.push(variable.value);
        if (context === 'range' && pipe.decl.length < 2) {
          const after = this.peekNonSpace().type;
          if (after === 'variable' || after === 'rightDelim' || after === 'rightParen') continue;
          this.fail('range can only initialize variables');
        }
        this.fail(`too many declarations in ${context}`);
      }
      this.index = beforeVariable;
      break;
    }
    for (;;) {
      const item = this.nextNonSpace();
      if (item.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (item.type) {
        case 'bool':
        case 'charConstant':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(item, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((cmd, i) => {
      const first = cmd.args[0];
      if (first && ['bool', 'dot', 'nil', 'number', 'string'].includes(first.kind)) {
        this.fail(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { kind: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const item = this.next();
      if (item.type === 'space') continue;
      if (item.type === 'rightDelim' || item.type === 'rightParen') this.backup();
      else if (item.type !== 'pipe') this.unexpected(item, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.fail('empty command');
    return cmd;
  }

  private operand(): ArgNode | undefined {
    const node = this.term();
    if (!node) return undefined;
    if (this.peek().type !== 'field') return node;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().value.slice(1));
    switch (node.kind) {
      case 'field':
        return { kind: 'field', pos: node.pos, idents: [...node.idents, ...fields] };
      case 'variable':
        return { kind: 'variable', pos: node.pos, idents: [...node.idents, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.fail(`unexpected . after term ${quoteGo(argString(node))}`);
      default:
        return { kind: 'chain', pos: node.pos, node, fields };
    }
  }

  private term(): ArgNode | undefined {
    const item = this.nextNonSpace();
    switch (item.type) {
      case 'identifier':
        if (!this.functions.has(item.value)) this.fail(`function ${quoteGo(item.value)} not defined`);
        return { kind: 'identifier', pos: item.pos, name: item.value };
      case 'dot':
        return { kind: 'dot', pos: item.pos, text: '.', value: undefined };
      case 'nil':
        return { kind: 'nil', pos: item.pos, text: 'nil', value: null };
      case 'variable': {
        const idents = item.value.split('.');
        if (!this.vars.includes(idents[0] ?? '')) this.fail(`undefined variable ${quoteGo(idents[0] ?? '')}`);
        return { kind: 'variable', pos: item.pos, idents };
      }
      case 'field':
        return { kind: 'field', pos: item.pos, idents: [item.value.slice(1)] };
      case 'bool':
        return { kind: 'bool', pos: item.pos, text: item.value, value: item.value === 'true' };
      case 'number':
      case 'charConstant': {
        let parsed: { value: number; isFloat: boolean };
        try {
          parsed = parseNumber(item.value, item.type === 'charConstant');
        } catch (err) {
          this.fail((err as Error).message);
        }
        return { kind: 'number', pos: item.pos, text: item.value, value: parsed.value };
      }
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { kind: 'string', pos: item.pos, text: item.value, value: this.unquote(item.value) };
      default:
        this.backup();
        return undefined;
    }
  }
}

function isEmptyList(list: ListNode): boolean {
  return list.nodes.every((n) => n.kind === 'text' && n.text.trim() === '');
}

function describeItem(item: Item): string {
  switch (item.type) {
    case 'eof':
      return 'EOF';
    case 'error':
      return item.value;
    case 'keyword':
      return `<${item.value}>`;
    default:
      return item.value.length > 10 ? `${quoteGo(item.value.slice(0, 10))}...` : quoteGo(item.value);
  }
}

// =============================================================================================
// Functions

const MISSING: unique symbol = Symbol('missing');
type Final = unknown | typeof MISSING;

type ParamType = 'any' | 'string' | 'int' | 'stringSlice';

interface Builtin {
  params: ParamType[];
  variadic?: ParamType;
  fn: (...args: any[]) => unknown;
}

class CallError extends Error {}

function truth(value: unknown): boolean {
  switch (goKind(value)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'string':
      return (value as string).length > 0;
    case 'int':
    case 'float':
      return Number(value) !== 0;
    case 'bool':
      return value as boolean;
    case 'slice':
      return (value as unknown[]).length > 0;
    case 'map':
      return value instanceof Map ? value.size > 0 : Object.keys(value as object).length > 0;
    default:
      return true;
  }
}

type BasicKind = 'bool' | 'number' | 'string' | 'other' | 'invalid';
function basicKind(value: unknown): BasicKind {
  switch (goKind(value)) {
    case 'invalid':
      return 'invalid';
    case 'bool':
      return 'bool';
    case 'int':
    case 'float':
      return 'number';
    case 'string':
      return 'string';
    default:
      return 'other';
  }
}

function equal(arg1: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new CallError('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of rest) {
    const k2 = basicKind(arg);
    let same = false;
    if (k1 !== k2) {
      if (arg1 != null && arg != null) throw new CallError('incompatible types for comparison');
      same = arg1 == null && arg == null;
    } else if (k1 === 'other') {
      const kind = goKind(arg1);
      if (kind === 'slice' || kind === 'map' || kind === 'func') throw new CallError(`non-comparable type ${formatValue(arg1)}: ${goTypeName(arg1)}`);
      same = arg1 === arg || (arg1 instanceof Date && arg instanceof Date && arg1.getTime() === arg.getTime());
    } else if (k1 === 'number') same = Number(arg1) === Number(arg);
    else same = arg1 === arg;
    if (same) return true;
  }
  return false;
}

function lessThan(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'invalid' || k1 === 'other' || k2 === 'invalid' || k2 === 'other') throw new CallError('invalid type for comparison');
  if (k1 !== k2) throw new CallError('incompatible types for comparison');
  if (k1 === 'bool') throw new CallError('invalid type for comparison');
  if (k1 === 'number') return Number(a) < Number(b);
  return compareStrings(a as string, b as string) < 0;
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function indexOne(item: unknown, key: unknown): unknown {
  const kind = goKind(item);
  if (kind === 'invalid' || kind === 'nil') throw new CallError('index of untyped nil');
  if (kind === 'slice' || kind === 'string') {
    if (goKind(key) !== 'int') throw new CallError(`cannot index slice/array with type ${goTypeName(key)}`);
    const i = Number(key);
    if (kind === 'string') {
      const bytes = Buffer.from(item as string, 'utf8');
      if (i < 0 || i >= bytes.length) throw new CallError(`index out of range: ${i}`);
      return bytes[i];
    }
    const list = item as unknown[];
    if (i < 0 || i >= list.length) throw new CallError(`index out of range: ${i}`);
    return list[i];
  }
  if (kind === 'map') {
    if (item instanceof Map) return item.get(key);
    if (typeof key !== 'string') throw new CallError(`value has type ${goTypeName(key)}; should be string`);
    return lookupKey(item as object, key).value;
  }
  throw new CallError(`can't index item of type ${goTypeName(item)}`);
}

function sliceOf(item: unknown, ...indexes: unknown[]): unknown {
  const kind = goKind(item);
  if (kind !== 'slice' && kind !== 'string') {
    if (kind === 'invalid' || kind === 'nil') throw new CallError('slice of untyped nil');
    throw new CallError(`can't slice item of type ${goTypeName(item)}`);
  }
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  if (kind === 'string' && indexes.length === 3) throw new CallError('cannot 3-index slice a string');
  const length = kind === 'string' ? byteLength(item as string) : (item as unknown[]).length;
  const bounds = indexes.map((ix) => {
    if (goKind(ix) !== 'int') throw new CallError(`cannot index slice/array with type ${goTypeName(ix)}`);
    const n = Number(ix);
    if (n < 0 || n > length) throw new CallError(`index out of range: ${n}`);
    return n;
  });
  const from = bounds[0] ?? 0;
  const to = bounds[1] ?? length;
  if (from > to) throw new CallError(`invalid slice index: ${from} > ${to}`);
  if (bounds[2] !== undefined && to > bounds[2]) throw new CallError(`invalid slice index: ${to} > ${bounds[2]}`);
  if (kind === 'string') return Buffer.from(item as string, 'utf8').subarray(from, to).toString('utf8');
  return (item as unknown[]).slice(from, to);
}

function htmlEscape(s: string): string {
  return s.replace(/[<>&'"\0]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\ufffd' })[c] ?? c);
}

function jsEscape(s: string): string {
  let out = '';
  for (const c of s) {
    const cp = c.codePointAt(0) ?? 0;
    if (c === '\\') out += '\\\\';
    else if (c === "'") out += "\\'";
    else if (c === '"') out += '\\"';
    else if (c === '<') out += '\\u003C';
    else if (c === '>') out += '\\u003E';
    else if (c === '&') out += '\\u0026';
    else if (c === '=') out += '\\u003D';
    else if (cp < 0x20 || /[\p{C}]/u.test(c)) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += c;
  }
  return out;
}

function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Args of html/js/urlquery: one string is used as is, anything else goes through fmt.Sprint. */
function evalArgsText(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args);
}

/** strings.Title: upper-cases the first letter of each word. */
export function titleCase(s: string): string {
  let previous = ' ';
  let out = '';
  for (const c of s) {
    out += isWordSeparator(previous) ? c.toUpperCase() : c;
    previous = c;
  }
  return out;
}

function isWordSeparator(c: string): boolean {
  if (c.codePointAt(0)! <= 0x7f) return !/[0-9A-Za-z_]/.test(c);
  if (/[\p{L}\p{Nd}]/u.test(c)) return false;
  return /\s/u.test(c);
}

function splitGo(s: string, sep: string): string[] {
  if (sep === '') return [...s];
  return s.split(sep);
}

const BUILTINS: Record<string, Builtin> = {
  and: { params: ['any'], variadic: 'any', fn: () => undefined }, // short-circuits in the evaluator
  or: { params: ['any'], variadic: 'any', fn: () => undefined },
  not: { params: ['any'], fn: (v: unknown) => !truth(v) },
  call: {
    params: ['any'],
    variadic: 'any',
    fn: (f: unknown, ...args: unknown[]) => {
      if (typeof f !== 'function') throw new CallError(`non-function of type ${goTypeName(f)}`);
      return f(...args);
    },
  },
  eq: { params: ['any'], variadic: 'any', fn: equal },
  ne: { params: ['any', 'any'], fn: (a: unknown, b: unknown) => !equal(a, b) },
  lt: { params: ['any', 'any'], fn: lessThan },
  le: { params: ['any', 'any'], fn: (a: unknown, b: unknown) => lessThan(a, b) || equal(a, b) },
  gt: { params: ['any', 'any'], fn: (a: unknown, b: unknown) => !(lessThan(a, b) || equal(a, b)) },
  ge: { params: ['any', 'any'], fn: (a: unknown, b: unknown) => !lessThan(a, b) },
  len: {
    params: ['any'],
    fn: (v: unknown) => {
      switch (goKind(v)) {
        case 'string':
          return byteLength(v as string);
        case 'slice':
          return (v as unknown[]).length;
        case 'map':
          return v instanceof Map ? v.size : Object.keys(v as object).length;
        case 'invalid':
        case 'nil':
          throw new CallError('len of nil pointer');
        default:
          throw new CallError(`len of type ${goTypeName(v)}`);
      }
    },
  },
  index: { params: ['any'], variadic: 'any', fn: (item: unknown, ...keys: unknown[]) => keys.reduce(indexOne, item) },
  slice: { params: ['any'], variadic: 'any', fn: sliceOf },
  print: { params: [], variadic: 'any', fn: (...args: unknown[]) => sprint(args) },
  println: { params: [], variadic: 'any', fn: (...args: unknown[]) => sprintln(args) },
  printf: { params: ['string'], variadic: 'any', fn: (format: string, ...args: unknown[]) => sprintf(format, args) },
  html: { params: [], variadic: 'any', fn: (...args: unknown[]) => htmlEscape(evalArgsText(args)) },
  js: { params: [], variadic: 'any', fn: (...args: unknown[]) => jsEscape(evalArgsText(args)) },
  urlquery: { params: [], variadic: 'any', fn: (...args: unknown[]) => queryEscape(evalArgsText(args)) },

  // Docker's additions (github.com/docker/cli/templates).
  json: {
    params: ['any'],
    fn: (v: unknown) => {
      try {
        return toGoJson(v);
      } catch (err) {
        throw new CallError((err as Error).message);
      }
    },
  },
  split: { params: ['string', 'string'], fn: splitGo },
  join: { params: ['stringSlice', 'string'], fn: (elems: string[], sep: string) => elems.join(sep) },
  title: { params: ['string'], fn: titleCase },
  lower: { params: ['string'], fn: (s: string) => s.toLowerCase() },
  upper: { params: ['string'], fn: (s: string) => s.toUpperCase() },
  pad: {
    params: ['string', 'int', 'int'],
    fn: (s: string, prefix: number, suffix: number) => (s === '' ? s : ' '.repeat(Math.max(prefix, 0)) + s + ' '.repeat(Math.max(suffix, 0))),
  },
  truncate: {
    params: ['string', 'int'],
    fn: (s: string, length: number) => {
      const bytes = Buffer.from(s, 'utf8');
      return bytes.length < length ? s : bytes.subarray(0, Math.max(length, 0)).toString('utf8');
    },
  },
};

/**
 * Docker renders a table's header by running the row template over the header names with these
 * in place of its functions, so `{{json .Labels}}` or `{{join .Names ","}}` heads a column with
 * the plain header name.
 */
export const HEADER_FUNCTIONS: TemplateFunctions = {
  json: (v: unknown) => v,
  split: (v: unknown) => v,
  join: (v: unknown) => v,
  title: (v: unknown) => v,
  lower: (v: unknown) => v,
  upper: (v: unknown) => v,
  pad: (v: unknown) => v,
  truncate: (v: unknown) => v,
};

// =============================================================================================
// Execution

class ExecError extends Error {}
class BreakSignal {}
class ContinueSignal {}
const BREAK = new BreakSignal();
const CONTINUE = new ContinueSignal();

const MAX_TEMPLATE_DEPTH = 1000;

function lookupKey(receiver: object, name: string): { found: boolean; value: unknown } {
  if (receiver instanceof Map) return { found: receiver.has(name), value: receiver.get(name) };
  if (Object.prototype.hasOwnProperty.call(receiver, name)) return { found: true, value: (receiver as Record<string, unknown>)[name] };
  // Getters and methods of class instances count, Object.prototype's members do not.
  if (name in receiver && !(name in Object.prototype)) return { found: true, value: (receiver as Record<string, unknown>)[name] };
  return { found: false, value: undefined };
}

interface Variable {
  name: string;
  value: unknown;
}

class State {
  out = '';
  vars: Variable[];
  node: Node | CommandNode | ArgNode | undefined;
  depth = 0;

  constructor(
    private readonly compiled: CompiledTemplate,
    private templateName: string,
    private readonly funcs: TemplateFunctions | undefined,
    data: unknown,
  ) {
    this.vars = [{ name: '$', value: data }];
  }

  fail(message: string): never {
    if (!this.node) throw new ExecError(`template: ${this.templateName}: ${message}`);
    const source = this.compiled.source;
    const pos = this.node.pos;
    const before = source.slice(0, pos);
    const lastNewline = before.lastIndexOf('\n');
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const column = byteLength(lastNewline < 0 ? before : before.slice(lastNewline + 1));
    throw new ExecError(
      `template: ${this.compiled.name}:${line}:${column}: executing ${quoteGo(this.templateName)} at <${nodeString(this.node)}>: ${message}`,
    );
  }

  at(node: Node | CommandNode | ArgNode): void {
    this.node = node;
  }

  mark(): number {
    return this.vars.length;
  }
  pop(mark: number): void {
    this.vars.length = mark;
  }
  setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i]!;
      if (v.name === name) {
        v.value = value;
        return;
      }
    }
    this.fail(`undefined variable: ${name}`);
  }
  setTopVar(n: number, value: unknown): void {
    this.vars[this.vars.length - n]!.value = value;
  }
  varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i]!;
      if (v.name === name) return v.value;
    }
    this.fail(`undefined variable: ${name}`);
  }

  walk(dot: unknown, node: Node): void {
    this.at(node);
    switch (node.kind) {
      case 'text':
        this.out += node.text;
        return;
      case 'action': {
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, value);
        return;
      }
      case 'list':
        for (const child of node.nodes) this.walk(dot, child);
        return;
      case 'if':
      case 'with': {
        const mark = this.mark();
        const value = this.evalPipeline(dot, node.pipe);
        if (truth(value)) this.walk(node.kind === 'with' ? value : dot, node.list);
        else if (node.elseList) this.walk(dot, node.elseList);
        this.pop(mark);
        return;
      }
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
      case 'template': {
        const tree = this.compiled.trees.get(node.name);
        if (!tree) this.fail(`template ${quoteGo(node.name)} not defined`);
        if (this.depth >= MAX_TEMPLATE_DEPTH) this.fail(`exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`);
        const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : undefined;
        const savedVars = this.vars;
        const savedName = this.templateName;
        this.vars = [{ name: '$', value: newDot }];
        this.templateName = node.name;
        this.depth++;
        try {
          this.walk(newDot, tree);
        } finally {
          this.depth--;
          this.vars = savedVars;
          this.templateName = savedName;
        }
        return;
      }
    }
  }

  private walkRange(dot: unknown, node: ControlNode): void {
    const outerMark = this.mark();
    const value = this.evalPipeline(dot, node.pipe);
    const bodyMark = this.mark();
    const declared = node.pipe.decl.length;
    const iterate = (key: unknown, element: unknown): void => {
      if (declared > 0) {
        if (node.pipe.isAssign) this.setVar(node.pipe.decl[0]!.idents[0]!, declared > 1 ? key : element);
        else this.setTopVar(1, element);
      }
      if (declared > 1) {
        if (node.pipe.isAssign) this.setVar(node.pipe.decl[1]!.idents[0]!, element);
        else this.setTopVar(2, key);
      }
      try {
        this.walk(element, node.list);
      } catch (signal) {
        if (signal !== CONTINUE) throw signal;
      } finally {
        this.pop(bodyMark);
      }
    };
    let ran = false;
    try {
      switch (goKind(value)) {
        case 'slice':
          (value as unknown[]).forEach((element, i) => {
            ran = true;
            iterate(i, element);
          });
          break;
        case 'map':
          for (const [key, element] of sortedMapEntries(value as object)) {
            ran = true;
            iterate(key, element);
          }
          break;
        case 'int':
          if (declared > 1) this.fail(`can't use ${formatValue(value)} to iterate over more than one variable`);
          for (let i = 0; i < Number(value); i++) {
            ran = true;
            iterate(i, i);
          }
          break;
        case 'invalid':
        case 'nil':
          break;
        default:
          this.fail(`range can't iterate over ${formatValue(value)}`);
      }
    } catch (signal) {
      if (signal !== BREAK) throw signal;
    }
    if (!ran && node.elseList) this.walk(dot, node.elseList);
    this.pop(outerMark);
  }

  private printValue(node: Node, value: unknown): void {
    this.at(node);
    if (value === undefined || value === null) this.out += '<no value>';
    else if (typeof value === 'function') this.fail(`can't print ${nodeString(node)} of type func`);
    else this.out += formatValue(value);
  }

  evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // Go unwraps interface values between stages, so a nil from a map reads as "no value".
      if (value === null) value = undefined;
    }
    for (const variable of pipe.decl) {
      if (pipe.isAssign) this.setVar(variable.idents[0]!, value);
      else this.vars.push({ name: variable.idents[0]!, value });
    }
    return value;
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.kind) {
      case 'field':
        this.at(first);
        return this.evalFieldChain(dot, dot, first, first.idents, cmd.args, final);
      case 'chain':
        return this.evalChain(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariable(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case 'dot':
        return dot;
      case 'nil':
        this.fail('nil is not a command');
      default:
        return first.value;
    }
  }

  private notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.fail(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  private evalVariable(dot: unknown, node: VariableNode, args: ArgNode[], final: Final): unknown {
    this.at(node);
    const value = this.varValue(node.idents[0]!);
    if (node.idents.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, node, node.idents.slice(1), args, final);
  }

  private evalChain(dot: unknown, chain: ChainNode, args: ArgNode[], final: Final): unknown {
    if (chain.node.kind === 'nil') this.fail(`indirection through explicit nil in ${argString(chain)}`);
    const receiver = this.evalArg(dot, chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.fields, args, final);
  }

  private evalFieldChain(dot: unknown, receiver: unknown, node: ArgNode, idents: string[], args: ArgNode[], final: Final): unknown {
    let current = receiver;
    for (let i = 0; i < idents.length - 1; i++) current = this.evalField(dot, idents[i]!, node, [], MISSING, current);
    return this.evalField(dot, idents[idents.length - 1]!, node, args, final, current);
  }

  private evalField(dot: unknown, name: string, node: ArgNode, args: ArgNode[], final: Final, receiver: unknown): unknown {
    if (receiver === undefined || receiver === null) return undefined;
    const kind = goKind(receiver);
    if (kind === 'map' || kind === 'time') {
      const { found, value } = lookupKey(receiver as object, name);
      if (!found && goStructType(receiver) !== undefined) this.fail(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
      if (typeof value === 'function') return this.callFunction(dot, name, node, value as TemplateFunction, undefined, args.slice(1), final, receiver);
      if (args.length > 1 || final !== MISSING) this.fail(`${name} is not a method but has arguments`);
      return found ? value : undefined;
    }
    this.fail(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }

  private evalFunction(dot: unknown, node: IdentifierNode, args: ArgNode[], final: Final): unknown {
    this.at(node);
    const name = node.name;
    const custom = this.funcs?.[name] ?? this.compiled.funcs[name];
    const builtin = custom ? undefined : BUILTINS[name];
    if (!custom && !builtin) this.fail(`${quoteGo(name)} is not a defined function`);
    if (builtin && (name === 'and' || name === 'or')) return this.evalAndOr(dot, node, name, args.slice(1), final);
    return this.callFunction(dot, name, node, custom, builtin, args.slice(1), final, undefined);
  }

  private evalAndOr(dot: unknown, node: IdentifierNode, name: 'and' | 'or', args: ArgNode[], final: Final): unknown {
    const count = args.length + (final === MISSING ? 0 : 1);
    if (count < 1) this.fail(`wrong number of args for ${name}: want at least 1 got 0`);
    let value: unknown;
    for (const arg of args) {
      value = this.evalArg(dot, arg);
      if (truth(value) === (name === 'or')) return value;
    }
    this.at(node);
    return final === MISSING ? value : final;
  }

  private callFunction(
    dot: unknown,
    name: string,
    node: ArgNode,
    custom: TemplateFunction | undefined,
    builtin: Builtin | undefined,
    argNodes: ArgNode[],
    final: Final,
    receiver: unknown,
  ): unknown {
    const count = argNodes.length + (final === MISSING ? 0 : 1);
    const fixed = builtin ? builtin.params.length : (custom?.length ?? 0);
    const variadic = builtin ? builtin.variadic !== undefined : true;
    if (count < fixed || (!variadic && count !== fixed)) {
      this.fail(`wrong number of args for ${name}: want ${variadic ? 'at least ' : ''}${fixed} got ${count}`);
    }
    const args: unknown[] = [];
    argNodes.forEach((argNode, i) => {
      const value = this.evalArg(dot, argNode);
      args.push(builtin ? this.validateType(value, builtin.params[i] ?? builtin.variadic ?? 'any') : value);
    });
    if (final !== MISSING) {
      args.push(builtin ? this.validateType(final, builtin.params[args.length] ?? builtin.variadic ?? 'any') : final);
    }
    try {
      const fn = custom ?? builtin!.fn;
      return receiver === undefined ? fn(...args) : fn.apply(receiver, args);
    } catch (err) {
      if (err instanceof ExecError) throw err;
      this.at(node);
      this.fail(`error calling ${name}: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private validateType(value: unknown, type: ParamType): unknown {
    switch (type) {
      case 'any':
        return value;
      case 'stringSlice':
        if (value === undefined || value === null) return [];
        if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
        return this.fail(`wrong type for value; expected []string; got ${goTypeName(value)}`);
      case 'string':
      case 'int': {
        if (value === undefined || value === null) this.fail(`invalid value; expected ${type}`);
        if (goKind(value) === type) return type === 'int' ? Number(value) : value;
        return this.fail(`wrong type for value; expected ${type}; got ${goTypeName(value)}`);
      }
    }
  }

  private evalArg(dot: unknown, node: ArgNode): unknown {
    this.at(node);
    switch (node.kind) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'field':
        return this.evalFieldChain(dot, dot, node, node.idents, [node], MISSING);
      case 'variable':
        return this.evalVariable(dot, node, [node], MISSING);
      case 'pipe':
        return this.evalPipeline(dot, node);
      case 'identifier':
        return this.evalFunction(dot, node, [node], MISSING);
      case 'chain':
        return this.evalChain(dot, node, [node], MISSING);
      default:
        return node.value;
    }
  }
}

// =============================================================================================
// Public API

/**
 * The shape of most `--format` templates, text and `{{.Field}}` only, as a list of literal texts
 * (strings) and field names (`{ field }`); undefined for anything else.
 */
type FieldsOnlyPlan = Array<string | { field: string }>;

function fieldsOnlyPlan(root: ListNode | undefined, trees: Map<string, ListNode>): FieldsOnlyPlan | undefined {
  if (!root || trees.size !== 1) return undefined;
  const plan: FieldsOnlyPlan = [];
  for (const node of root.nodes) {
    if (node.kind === 'text') plan.push(node.text);
    else if (node.kind === 'action' && node.pipe.decl.length === 0 && node.pipe.cmds.length === 1) {
      const args = node.pipe.cmds[0]!.args;
      const arg = args[0];
      if (args.length !== 1 || arg?.kind !== 'field' || arg.idents.length !== 1) return undefined;
      plan.push({ field: arg.idents[0]! });
    } else return undefined;
  }
  return plan;
}

/**
 * Text and `{{.Field}}` actions only, as most `--format` templates and every default table are:
 * their plan needs no lexer or parser (which a short-lived CLI would run cold).
 */
const FIELDS_ONLY_SOURCE = /^(?:[^{]|\{(?!\{))*(?:\{\{\.[A-Za-z_][A-Za-z0-9_]*\}\}(?:[^{]|\{(?!\{))*)*$/;

function fieldsOnlyPlanOfSource(source: string): FieldsOnlyPlan | undefined {
  if (!FIELDS_ONLY_SOURCE.test(source)) return undefined;
  return source
    .split(/\{\{\.([A-Za-z_][A-Za-z0-9_]*)\}\}/)
    .flatMap((part, i): FieldsOnlyPlan => (i % 2 === 1 ? [{ field: part }] : part === '' ? [] : [part]));
}

class CompiledTemplate implements Template {
  private parsedTrees: Map<string, ListNode> | undefined;

  constructor(
    readonly name: string,
    readonly source: string,
    private readonly parse: () => Map<string, ListNode>,
    readonly funcs: TemplateFunctions,
    private readonly plan: FieldsOnlyPlan | undefined,
  ) {}

  /** The parse trees by template name, parsed on first use when a plan made them unnecessary. */
  get trees(): Map<string, ListNode> {
    this.parsedTrees ??= this.parse();
    return this.parsedTrees;
  }

  get fieldsOnly(): boolean {
    return this.plan !== undefined;
  }

  execute(data: unknown, options: ExecuteOptions = {}): string {
    if (this.plan) {
      const out = this.executePlan(this.plan, data);
      if (out !== undefined) return out;
    }
    const root = this.trees.get(this.name);
    if (!root) return '';
    const state = new State(this, this.name, options.funcs, data);
    try {
      state.walk(data, root);
    } catch (err) {
      if (options.ignoreErrors) return state.out;
      if (err instanceof ExecError) throw invalidArgument(err.message, err);
      if (err instanceof RangeError) throw invalidArgument(`template: ${this.name}: ${err.message}`, err);
      throw err;
    }
    return state.out;
  }

  /**
   * The walk's result for a fields-only template over a list row (a plain object or a class
   * instance whose getters are the columns) when every field it names is a string, without the
   * walk; undefined when the general walk must decide (missing fields, other values, maps, errors).
   */
  private executePlan(plan: FieldsOnlyPlan, data: unknown): string | undefined {
    if (typeof data !== 'object' || data === null || Array.isArray(data) || data instanceof Map || data instanceof Date) return undefined;
    let out = '';
    for (const part of plan) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      // The walk's own lookup: own fields and a class's getters, never Object.prototype's members.
      const { value } = lookupKey(data, part.field);
      if (typeof value !== 'string') return undefined;
      out += value;
    }
    return out;
  }
}

/**
 * Parses a Go template. `funcs` adds functions (e.g. for a command's own helpers); their names,
 * like Go's, must be known here for the template to parse.
 */
export function compileTemplate(source: string, options: { name?: string; funcs?: TemplateFunctions } = {}): Template {
  const name = options.name ?? '';
  const funcs = options.funcs ?? {};
  const parse = (): Map<string, ListNode> => {
    const functionNames = new Set([...Object.keys(BUILTINS), ...Object.keys(funcs)]);
    const set: ParsedSet = { trees: new Map() };
    try {
      const root = new Parser(lex(source), name, functionNames, set).parseRoot();
      if (!set.trees.has(name) || !isEmptyList(root)) set.trees.set(name, root);
    } catch (err) {
      if (err instanceof ParseError) throw invalidArgument(err.message);
      throw err;
    }
    return set.trees;
  };
  const simplePlan = fieldsOnlyPlanOfSource(source);
  if (simplePlan) return new CompiledTemplate(name, source, parse, funcs, simplePlan);
  const trees = parse();
  return new CompiledTemplate(name, source, () => trees, funcs, fieldsOnlyPlan(trees.get(name), trees));
}

/** Compiles and runs a template once. */
export function executeTemplate(source: string, data: unknown): string {
  return compileTemplate(source).execute(data);
}
