import { describe, expect, it } from 'vitest';
import { KptrError } from '../../../errors/KptrError.ts';
import { loadSpec } from '../../../specs/load.ts';
import { compareVersions, kernelFeatures, parseKernelVersion, parseVersionRange, versionInRange } from '../../../specs/versionRange.ts';

describe('parseKernelVersion', () => {
  it.each([
    ['6.12.117+deb13-cloud-amd64', '6.12.117'],
    ['7.3.4+deb13-cloud-amd64', '7.3.4'],
    ['6.1.0-56-cloud-amd64', '6.1.0'],
    ['6.18.44-fc-v669', '6.18.44'],
    ['6.8', '6.8.0'],
    ['6.10-rc3', '6.10.0'],
  ])('%s → %s', (release, version) => expect(parseKernelVersion(release)).toBe(version));

  it('refuses a release without major.minor', () => {
    expect(() => parseKernelVersion('linux')).toThrow(KptrError);
    expect(() => parseKernelVersion('linux')).toThrow("cannot read a kernel version from release 'linux'");
  });
});

describe('compareVersions', () => {
  it.each([
    ['6.8', '6.8.0', 0],
    ['6.18', '6.8', 1],
    ['6.9.1', '6.10', -1],
    ['7.0', '6.19.99', 1],
    ['6.12.117', '6.12.117', 0],
  ])('%s vs %s → %d', (a, b, d) => {
    expect(compareVersions(a, b)).toBe(d);
    expect(compareVersions(b, a)).toBe(-d || 0);
  });
});

describe('versionInRange', () => {
  it.each([
    ['6.18.44', '*', true],
    ['6.1.0', '>=6.7', false],
    ['6.7.0', '>=6.7', true],
    ['6.12.117', '>=6.8 <7.0', true],
    ['7.0.5', '>=6.8 <7.0', false],
    ['6.18.44', '=6.18', true],
    ['6.19.0', '=6.18', false],
    ['7.3.4', '>=7.3', true],
    ['7.3.4', '>7.3', false],
    ['7.4.0', '>7.3', true],
    ['6.18.15', '>=6.18 <7.3', true],
    ['6.17.9', '<=6.17', true],
    ['6.18.0', '<=6.17', false],
    ['6.12.117', '>=6.12.100 <6.12.200', true],
    ['6.12.99', '>=6.12.100', false],
  ])('%s in %s → %s', (v, r, want) => expect(versionInRange(v, r)).toBe(want));

  it('parses comparators', () => {
    expect(parseVersionRange('>=6.8 <7.0')).toEqual([{ op: '>=', version: '6.8' }, { op: '<', version: '7.0' }]);
    expect(parseVersionRange('*')).toEqual([]);
  });

  it.each(['', '~6.8', '>=6.8,<7.0', '>= 6.8', '6.8', '>=6.x'])('rejects malformed range %j', (r) => {
    expect(() => parseVersionRange(r)).toThrow();
  });
});

describe('kernelFeatures', () => {
  const spec = loadSpec();
  it.each([
    ['6.1.0', '6.1'], ['6.6.30', '6.1'], ['6.7.0', '6.7'], ['6.12.117', '6.12'], ['6.17.1', '6.12'],
    ['6.18.44', '6.18'], ['6.19.2', '6.18'], ['7.0.0', '7.0'], ['7.3.4', '7.3'], ['8.1.0', '7.3'],
  ])('%s uses the %s row', (version, row) => expect(kernelFeatures(spec, version).version).toBe(row));

  it('carries the measured facts', () => {
    const f = (v: string) => kernelFeatures(spec, v).features;
    expect([f('6.12.117').reject_plain_into_percpu, f('6.18.44').reject_plain_into_percpu, f('7.3.4').reject_plain_into_percpu]).toEqual([true, false, true]);
    expect([f('6.12.117').exit_leak_trailer, f('6.18.15').exit_leak_trailer, f('7.3.4').exit_leak_trailer]).toEqual([false, true, true]);
    expect([f('6.12.117').exit_checks_leak_first, f('6.18.15').exit_checks_leak_first]).toEqual([false, true]);
    expect(f('6.1.0').percpu_kptr).toBe(false);
    // no cgroup storage map before 6.2: campaigns on 6.1 generate none
    expect([f('6.1.0').cgrp_storage, f('6.12.117').cgrp_storage]).toEqual([false, true]);
    expect(f('6.7.0').percpu_size_limit).toBe(false);
    expect(f('6.8.0').percpu_size_limit).toBe(true);
  });

  it('refuses a kernel older than every row', () => {
    expect(() => kernelFeatures(spec, '5.15.0')).toThrow('kernel 5.15.0 is older than every row of specs/kernels.yaml (oldest: 6.1)');
  });
});
