/** The value of --stage in argv (`--stage prod` or `--stage=prod`), if any. */
export function stageArgument(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--stage') return argv[i + 1];
    if (arg.startsWith('--stage=')) return arg.slice('--stage='.length);
  }
  return undefined;
}
