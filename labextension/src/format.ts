/**
 * Text formats shared by the report's parts: the same as the Python side's static HTML and
 * text (`codemode.trace._render`), so a report reads alike in every front end.
 */

/** `12.3 ms` under a second, `1.25 s` from there. */
export function formatDuration(seconds: number): string {
  return seconds < 1 ? `${(seconds * 1000).toFixed(1)} ms` : `${seconds.toFixed(2)} s`;
}

/** `512 B`, `3.3 KB`, `1.2 MB`. */
export function formatSize(size: number): string {
  if (size < 1024) {
    return `${size} B`;
  }
  if (size < 1024 * 1024) {
    return `${(size / 1024).toFixed(1)} KB`;
  }
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

/** A count with thousands separators: `5,259`. */
export function formatCount(count: number): string {
  return count.toLocaleString('en');
}

/** `3.3× fewer` when code mode spent fewer tokens than classic tool calling, `N more` otherwise. */
export function tokenVerdict(tokens: { classic_total: number; code_mode_total: number; ratio: number }): string {
  return tokens.code_mode_total && tokens.classic_total >= tokens.code_mode_total
    ? `${tokens.ratio.toFixed(1)}× fewer`
    : `${formatCount(tokens.code_mode_total - tokens.classic_total)} more`;
}

/** `an int64`, `a module`, `a uint8`: the article for `word`, then the word (as the Python side's `a_or_an`). */
export function aOrAn(word: string): string {
  const lowered = word.toLowerCase();
  const vowel = 'aeiou'.includes(lowered.charAt(0)) && !['uint', 'uni', 'use', 'usu', 'uti', 'eu', 'one'].some(p => lowered.startsWith(p));
  return `${vowel ? 'an' : 'a'} ${word}`;
}
