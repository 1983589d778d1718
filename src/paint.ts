/** ANSI colouring that turns itself off (decided per stream by the CLI: see globalOptions). */
export function painter(enabled: boolean) {
  const wrap = (code: string) => (s: string) => (enabled ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { green: wrap('32'), red: wrap('31'), yellow: wrap('33'), cyan: wrap('36'), bold: wrap('1'), dim: wrap('2') };
}
export type Painter = ReturnType<typeof painter>;
