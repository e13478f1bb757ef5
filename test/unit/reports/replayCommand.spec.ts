import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { replayCommand, selftestCommand } from '../../../reports/replayCommand.ts';

/** The words a POSIX shell makes of a command line (what a paste runs). */
async function shellWords(line: string): Promise<string[]> {
  const { stdout } = await execa('bash', ['-c', `set -- ${line}; printf '%s\\0' "$@"`]);
  return stdout.split('\0').filter((w, i, all) => i < all.length - 1 || w !== '');
}

describe('replayCommand', () => {
  it('should name the host runner alone: the host runner takes no kernel', () => {
    expect(replayCommand('out/findings/x/scenario.yaml', { runner: 'host', kernel: null, codegen: 'clang' }))
      .toBe('npx kptr-conform replay out/findings/x/scenario.yaml --runner host');
  });

  it('should carry the vm kernel, and the codegen when it is not replay\'s default', () => {
    expect(replayCommand('f.yaml', { runner: 'vm', kernel: '6.12.117+deb13-cloud-amd64', codegen: 'clang' }))
      .toBe('npx kptr-conform replay f.yaml --runner vm --kernel 6.12.117+deb13-cloud-amd64');
    expect(replayCommand('f.yaml', { runner: 'host', kernel: null, codegen: 'direct' }))
      .toBe('npx kptr-conform replay f.yaml --runner host --codegen direct');
  });

  it('should quote file and kernel paths so that a shell gives them back unchanged', async () => {
    const file = "/tmp/it's here/$HOME/scenario.yaml";
    const kernel = '/images/my bzImage;rm -rf x';
    const words = await shellWords(replayCommand(file, { runner: 'vm', kernel, codegen: 'direct' }).replace(/^npx kptr-conform /, ''));
    expect(words).toEqual(['replay', file, '--runner', 'vm', '--kernel', kernel, '--codegen', 'direct']);
  });

  it('should run a built-in case again by its id, with the same runner options', () => {
    expect(selftestCommand('pa_array_ok', { runner: 'vm', kernel: '/k/bz', codegen: 'direct' }))
      .toBe('npx kptr-conform selftests --filter pa_array_ok --runner vm --kernel /k/bz --codegen direct');
  });
});
