/**
 * The segment language (docs/dsl.md) as a CodeMirror 6 stream parser.
 *
 * Each kind of token gets a standard Lezer tag, so JupyterLab's own highlight style colours it with its
 * `--jp-mirror-editor-*-color` variables (light and dark themes alike), plus a stable `jseg-tok-*` class
 * (a second highlighter) that tests and user CSS can select.
 */

import {
  LanguageSupport,
  StreamLanguage,
  StringStream,
  syntaxHighlighting
} from '@codemirror/language';
import { Extension } from '@codemirror/state';
import { tagHighlighter, tags as t, Tag } from '@lezer/highlight';

export const SEGMENT_MIME = 'text/x-segment';

export function isSegmentCell(text: string): boolean {
  const m = /^(?:[ \t]*\n)*[ \t]*(\S.*)?/.exec(text);
  return !!m && !!m[1] && /^%%segment(?:[ \t]|$)/.test(m[1]);
}

/** Token kind -> the standard tag JupyterLab colours, and the class our second highlighter adds. */
const KINDS: { [kind: string]: Tag } = {
  keyword: t.keyword,
  operator: t.operator,
  function: t.standard(t.variableName),
  string: t.string,
  date: t.special(t.string),
  number: t.number,
  atom: t.atom,
  comment: t.lineComment,
  variable: t.special(t.variableName), // {python_var}
  relationship: t.tagName,
  attribute: t.propertyName,
  segment: t.definition(t.name), // in segment NAME, %%segment NAME
  alias: t.definition(t.variableName), // PROJECT ... AS NAME
  magic: t.meta,
  paren: t.paren,
  punctuation: t.separator
};

const tokenTable: { [name: string]: Tag } = {};
for (const [kind, tag] of Object.entries(KINDS)) {
  tokenTable[`jseg-${kind}`] = tag;
}

const KEYWORDS = new Set([
  'and', 'or', 'not', 'in', 'segment', 'is', 'between', 'like', 'ilike', 'contains', 'starts', 'ends',
  'with', 'empty', 'last', 'before', 'after', 'where', 'project', 'as', 'union', 'intersect', 'except',
  'day', 'days', 'week', 'weeks', 'month', 'months', 'year', 'years'
]); // prettier-ignore
const ATOMS = new Set(['true', 'false', 'null']);
const DATE_WORDS = new Set(['date', 'timestamp']);
/** Functions whose path ends with a relationship (the others end with an attribute). */
const RECORD_FUNCTIONS = new Set(['count', 'any', 'none', 'all']);
const VALUE_FUNCTIONS = new Set(['count_distinct', 'sum', 'avg', 'min', 'max']);
const ISO_DATE = /^'\d{4}-\d{2}-\d{2}([ T][0-9:.]+)?'$/;

interface State {
  magicSeen: boolean; // the %%segment line is behind us
  inMagic: boolean; // on the %%segment line
  pathOf: string | null; // reading the path of this function: count(orders.
  afterPath: boolean; // the function's path is done (WHERE or ")" follows)
  expect: 'segment' | 'alias' | 'date' | null;
  prev: string; // the previous word, lower case
}

const NAME = /^(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")*"?)/;

function followedBy(stream: StringStream, re: RegExp): boolean {
  return re.test(stream.string.slice(stream.pos));
}

function magicToken(stream: StringStream, state: State): string | null {
  if (stream.match(/^%%segment/)) {
    return 'jseg-magic';
  }
  if (stream.match(/^--?[A-Za-z][\w-]*/)) {
    return 'jseg-magic';
  }
  if (stream.match(/^'[^']*'?|^"[^"]*"?/)) {
    return 'jseg-string';
  }
  if (stream.match(/^\d[\w.-]*/)) {
    return 'jseg-number';
  }
  if (stream.match(/^[A-Za-z_]\w*/)) {
    return 'jseg-segment';
  }
  stream.next();
  return null;
}

function token(stream: StringStream, state: State): string | null {
  if (stream.sol() && !state.magicSeen) {
    state.magicSeen = true;
    state.inMagic = /^\s*%%/.test(stream.string);
  } else if (stream.sol()) {
    state.inMagic = false;
  }
  if (stream.eatSpace()) {
    return null;
  }
  if (state.inMagic) {
    return magicToken(stream, state);
  }
  if (stream.match('--')) {
    stream.skipToEnd();
    return 'jseg-comment';
  }
  const expect = state.expect;
  state.expect = null;
  if (stream.match(/^'(?:[^']|'')*'?/)) {
    const text = stream.current();
    return expect === 'date' || ISO_DATE.test(text) ? 'jseg-date' : 'jseg-string';
  }
  if (stream.match(/^\{\s*[A-Za-z_]\w*\s*\}/) || stream.match(/^\{[^}\s]*\}?/)) {
    return 'jseg-variable';
  }
  if (stream.match(/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/)) {
    return 'jseg-number';
  }
  if (stream.match(/^(?:!=|<>|<=|>=|[=<>+\-*/])/)) {
    return 'jseg-operator';
  }
  if (stream.match(/^[()]/)) {
    if (stream.current() === ')' || state.afterPath) {
      state.pathOf = null;
      state.afterPath = false;
    }
    return 'jseg-paren';
  }
  if (stream.match(/^[,.]/)) {
    return 'jseg-punctuation';
  }
  if (stream.match(NAME)) {
    const word = stream.current();
    const lower = word.toLowerCase();
    const quoted = word.startsWith('"');
    const dotted = followedBy(stream, /^\s*\./);
    const prev = state.prev;
    state.prev = lower;
    if (expect === 'segment') {
      return 'jseg-segment';
    }
    if (expect === 'alias') {
      return 'jseg-alias';
    }
    if (state.pathOf !== null && !state.afterPath) {
      // Inside count(orders.order_lines ...: steps, then (for a value function) the attribute.
      if (dotted) {
        return 'jseg-relationship';
      }
      state.afterPath = true;
      return RECORD_FUNCTIONS.has(state.pathOf) ? 'jseg-relationship' : 'jseg-attribute';
    }
    if (!quoted && followedBy(stream, /^\s*\(/)) {
      if (RECORD_FUNCTIONS.has(lower) || VALUE_FUNCTIONS.has(lower)) {
        state.pathOf = lower; // the path starts after the "(" that follows
        state.afterPath = false;
        return 'jseg-function';
      }
    }
    if (!quoted && !dotted && prev !== '.') {
      if (lower === 'segment' && prev === 'in') {
        state.expect = 'segment';
        return 'jseg-keyword';
      }
      if (lower === 'as') {
        state.expect = 'alias';
        return 'jseg-keyword';
      }
      if (DATE_WORDS.has(lower) && followedBy(stream, /^\s*'/)) {
        state.expect = 'date';
        return 'jseg-keyword';
      }
      if (ATOMS.has(lower)) {
        return 'jseg-atom';
      }
      if (KEYWORDS.has(lower)) {
        return 'jseg-keyword';
      }
    }
    return dotted ? 'jseg-relationship' : 'jseg-attribute';
  }
  stream.next();
  return null;
}

export const segmentLanguage = StreamLanguage.define<State>({
  name: 'segment',
  startState: () => ({
    magicSeen: false,
    inMagic: false,
    pathOf: null,
    afterPath: false,
    expect: null,
    prev: ''
  }),
  copyState: s => ({ ...s }),
  token: (stream, state) => {
    const style = token(stream, state);
    if (style === 'jseg-punctuation' && stream.current() === '.') {
      state.prev = '.';
    }
    return style;
  },
  blankLine: state => {
    if (state.magicSeen) {
      state.inMagic = false;
    }
  },
  languageData: { commentTokens: { line: '--' } },
  tokenTable
});

/** `jseg-tok-<kind>` classes on every token, beside JupyterLab's colours. */
const classes = tagHighlighter(
  Object.entries(KINDS).map(([kind, tag]) => ({ tag, class: `jseg-tok-${kind}` }))
);

export function segmentSupport(): LanguageSupport {
  const extensions: Extension[] = [syntaxHighlighting(classes)];
  return new LanguageSupport(segmentLanguage, extensions);
}
