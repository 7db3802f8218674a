/** A ```ts block of a markdown file, and how the check should read it. */
export interface DocBlock {
  /** The markdown file, as the caller named it (relative to the repository root in reports). */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** 1-based position among the file's ts blocks. */
  readonly index: number;
  readonly code: string;
  /**
   * The preludes named by an `<!-- excerpt: name, … -->` comment right before the fence: the
   * block is an excerpt, and these modules supply what it uses without declaring.
   */
  readonly preludes: readonly string[];
}

/** A marker the check cannot honour: reported like a type error, at its own line. */
export interface MarkerProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/;
const marker = /^\s*<!--\s*excerpt\s*:(.*?)-->\s*$/;
const looseMarker = /^\s*<!--\s*excerpt\b/;

/**
 * The ts blocks of `markdown` in order. A block is complete unless the last non-blank line before
 * its fence is an excerpt marker; a marker anywhere else is a problem, so that a typo cannot turn
 * the check off silently.
 */
export const extractBlocks = (file: string, markdown: string): { blocks: DocBlock[]; problems: MarkerProblem[] } => {
  const lines = markdown.split(/\r?\n/);
  const blocks: DocBlock[] = [];
  const problems: MarkerProblem[] = [];
  let pending: { line: number; preludes: string[] } | undefined;
  const dropPending = () => {
    if (pending) problems.push({ file, line: pending.line, message: 'an excerpt marker must come right before a ```ts block (only blank lines between)' });
    pending = undefined;
  };
  for (let i = 0; i < lines.length; i += 1) {
    const text = lines[i]!;
    const open = fence.exec(text);
    if (open) {
      const [, indent = '', ticks = '', lang = ''] = open;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length; j += 1) {
        const close = lines[j]!;
        if (close.trimStart().startsWith(ticks[0]!.repeat(ticks.length)) && close.trim().replace(/[`~]/g, '') === '') break;
        // An indented fence (in a list item) indents its code by as much: strip that.
        body.push(close.startsWith(indent) ? close.slice(indent.length) : close.trimStart());
      }
      if (lang === 'ts' || lang === 'typescript') {
        blocks.push({ file, line: i + 1, index: blocks.length + 1, code: body.join('\n'), preludes: pending?.preludes ?? [] });
        pending = undefined;
      } else {
        dropPending();
      }
      i = j;
      continue;
    }
    const mark = marker.exec(text);
    if (mark) {
      dropPending();
      const preludes = mark[1]!.split(',').map((name) => name.trim()).filter((name) => name !== '');
      if (preludes.length === 0) problems.push({ file, line: i + 1, message: 'an excerpt marker names its prelude: <!-- excerpt: express-app -->' });
      else pending = { line: i + 1, preludes };
      continue;
    }
    if (looseMarker.test(text)) {
      problems.push({ file, line: i + 1, message: 'an excerpt marker is one line: <!-- excerpt: name[, name…] -->' });
      continue;
    }
    if (text.trim() !== '') dropPending();
  }
  dropPending();
  return { blocks, problems };
};
