/**
 * Which profile models a running kernel: builds of one version differ (a backport keeps the version string), so a
 * later build takes the profile of the latest measured build before it.
 */
import { describe, expect, it } from 'vitest';
import { compareReleases, loadProfile, PROFILE_NAMES, profileForRelease } from '../../../../emulator/verifier/profile.ts';

/** the release with its last run of digits raised by `by` (a later build of the same kernel) */
const laterBuild = (release: string, by: number): string => release.replace(/(\d+)(\D*)$/, (_, n: string, rest: string) => `${Number(n) + by}${rest}`);

describe('profileForRelease', () => {
  it('should take the profile measured on exactly that release', () => {
    for (const name of PROFILE_NAMES) expect(profileForRelease(loadProfile(name).release)).toBe(name);
  });

  it('should give a later build of the host 6.18.44 the latest measured build before it, not the first', () => {
    const first = loadProfile('6.18.44').release; // 6.18.44-fc-v669
    const backported = loadProfile('6.18.44-v1045').release; // 6.18.44-fc-v1045: refuses a plain object in a __percpu_kptr
    expect(profileForRelease(laterBuild(backported, 207))).toBe('6.18.44-v1045');
    expect(profileForRelease(laterBuild(first, 31))).toBe('6.18.44');
  });

  it('should give another flavour of a measured version the first profile of that version, and none below every profile', () => {
    expect(profileForRelease('6.18.44+deb13-cloud-amd64')).toBe('6.18.44');
    expect(profileForRelease('6.18.20+deb13-cloud-amd64')).toBe('6.18');
    expect(profileForRelease('6.18.3')).toBeNull();
    expect(profileForRelease('5.15.0-91-generic')).toBeNull();
  });
});

describe('compareReleases', () => {
  it('should compare runs of digits as numbers and the rest as text', () => {
    expect(compareReleases('6.18.44-fc-v669', '6.18.44-fc-v1045')).toBeLessThan(0);
    expect(compareReleases('6.18.44-fc-v1045', '6.18.44-fc-v669')).toBeGreaterThan(0);
    expect(compareReleases('6.12.117+deb13', '6.12.117+deb13')).toBe(0);
    expect(compareReleases('6.12', '6.12.1')).toBeLessThan(0);
    expect(compareReleases('6.18.44+deb13', '6.18.44-fc-v1')).toBeLessThan(0);
  });
});
