/**
 * Go's text/tabwriter (Docker's fork, which measures cells by terminal width), with the settings
 * Docker's list commands use: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
 *
 * Cells are tab-terminated; the text after a line's last tab is not part of any column. A column
 * block is a run of consecutive lines that have a cell in that column; each block is as wide as
 * its widest cell plus padding, and at least `minWidth`.
 */

export interface TabwriterOptions {
  minWidth: number;
  padding: number;
  padChar: string;
}

export const DOCKER_TABWRITER: TabwriterOptions = { minWidth: 10, padding: 3, padChar: ' ' };

interface Cell {
  text: string;
  width: number;
}

// East Asian Wide and Fullwidth ranges, and emoji, which terminals draw two columns wide.
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec], [0x23f0, 0x23f0], [0x23f3, 0x23f3],
  [0x25fd, 0x25fe], [0x2614, 0x2615], [0x2648, 0x2653], [0x267f, 0x267f], [0x2693, 0x2693], [0x26a1, 0x26a1],
  [0x26aa, 0x26ab], [0x26bd, 0x26be], [0x26c4, 0x26c5], [0x26ce, 0x26ce], [0x26d4, 0x26d4], [0x26ea, 0x26ea],
  [0x26f2, 0x26f3], [0x26f5, 0x26f5], [0x26fa, 0x26fa], [0x26fd, 0x26fd], [0x2705, 0x2705], [0x270a, 0x270b],
  [0x2728, 0x2728], [0x274c, 0x274c], [0x274e, 0x274e], [0x2753, 0x2755], [0x2757, 0x2757], [0x2795, 0x2797],
  [0x27b0, 0x27b0], [0x27bf, 0x27bf], [0x2b1b, 0x2b1c], [0x2b50, 0x2b50], [0x2b55, 0x2b55], [0x2e80, 0x303e],
  [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3],
  [0xf900, 0xfaff], [0xfe10, 0xfe19], [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x16fe0, 0x16fe4],
  [0x17000, 0x18aff], [0x1b000, 0x1b2ff], [0x1f004, 0x1f004], [0x1f0cf, 0x1f0cf], [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a], [0x1f200, 0x1f251], [0x1f300, 0x1f64f], [0x1f680, 0x1f6ff], [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff], [0x1fa70, 0x1faff], [0x20000, 0x2fffd], [0x30000, 0x3fffd],
];

function codePointWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (cp < 0x300) return 1;
  if (cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f) || /[\p{Mn}\p{Me}]/u.test(String.fromCodePoint(cp))) return 0;
  for (const [low, high] of WIDE_RANGES) {
    if (cp < low) break;
    if (cp <= high) return 2;
  }
  return 1;
}

/** Columns a string takes on a terminal. */
export function displayWidth(s: string): number {
   
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let width = 0;
  for (const ch of s) width += codePointWidth(ch.codePointAt(0) ?? 0);
  return width;
}

function splitLines(text: string): Cell[][] {
  const rawLines = text.split('\n');
  return rawLines.map((raw, i) => {
    const parts = raw.split(/[\t\v]/);
    const isLast = i === rawLines.length - 1;
    // The unterminated text at the very end only forms a cell when there is some.
    if (isLast && parts[parts.length - 1] === '') parts.pop();
    return parts.map((part) => ({ text: part, width: displayWidth(part) }));
  });
}

function formatBlock(lines: Cell[][], options: TabwriterOptions): string {
  let out = '';
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      line.forEach((cell, j) => {
        out += cell.text;
        const columnWidth = widths[j];
        if (columnWidth !== undefined) out += options.padChar.repeat(Math.max(columnWidth - cell.width, 0));
      });
      if (i + 1 < lines.length) out += '\n';
    }
  };

  const format = (from: number, to: number): void => {
    const column = widths.length;
    let line0 = from;
    for (let current = from; current < to; current++) {
      if (column >= lines[current]!.length - 1) continue;
      writeLines(line0, current);
      line0 = current;
      let width = options.minWidth;
      for (; current < to; current++) {
        const line = lines[current]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + options.padding);
      }
      widths.push(width);
      format(line0, current);
      widths.pop();
      line0 = current;
    }
    writeLines(line0, to);
  };

  format(0, lines.length);
  return out;
}

/** Aligns tab-terminated cells into columns; a form feed ends all columns, like a flush. */
export function tabwrite(text: string, options: TabwriterOptions = DOCKER_TABWRITER): string {
  const sections = text.split('\f');
  return sections
    .map((section, i) => {
      const lines = splitLines(i < sections.length - 1 ? `${section}\n` : section);
      return formatBlock(lines, options);
    })
    .join('');
}
