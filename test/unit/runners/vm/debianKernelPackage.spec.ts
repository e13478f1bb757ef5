import { describe, expect, it } from 'vitest';
import { debianKernelPackage } from '../../../../runners/vm/debianKernelPackage.ts';

// Package names as `apt-cache pkgnames linux-` listed them for trixie-backports and bookworm on 2026-11-25.
const BACKPORTS = [
  'linux-base-7.3.4+deb13-cloud-amd64', 'linux-base-cloud-amd64',
  'linux-binary-7.2.12+deb13-cloud-amd64', 'linux-binary-7.3.4+deb13-cloud-amd64',
  'linux-binary-unsigned-7.2.12+deb13-cloud-amd64', 'linux-binary-unsigned-7.3.4+deb13-cloud-amd64',
  'linux-headers-7.3.4+deb13-cloud-amd64', 'linux-image-6.18.5+deb13-cloud-amd64', 'linux-image-6.18.15+deb13-cloud-amd64',
  'linux-image-6.19.14+deb13-cloud-amd64', 'linux-image-7.3.4+deb13-cloud-amd64', 'linux-image-7.3.4+deb13-cloud-amd64-dbg',
  'linux-image-cloud-amd64', 'linux-modules-7.3.4+deb13-cloud-amd64',
];
const BOOKWORM = [
  'linux-image-6.1.0-47-cloud-amd64', 'linux-image-6.1.0-47-cloud-amd64-unsigned',
  'linux-image-6.1.0-50-cloud-amd64', 'linux-image-6.1.0-50-cloud-amd64-dbg', 'linux-image-6.1.0-50-cloud-amd64-unsigned',
  'linux-image-cloud-amd64',
];

describe('debianKernelPackage', () => {
  it('should pick the split 7.x binary package and linux-base for its config', () => {
    expect(debianKernelPackage(BACKPORTS, '7.3')).toEqual({
      abi: '7.3.4+deb13-cloud-amd64',
      packages: ['linux-binary-unsigned-7.3.4+deb13-cloud-amd64', 'linux-base-7.3.4+deb13-cloud-amd64'],
    });
  });

  it('should pick the newest 6.18 by number, not by text (6.18.15 > 6.18.5)', () => {
    expect(debianKernelPackage(BACKPORTS, '6.18')).toEqual({ abi: '6.18.15+deb13-cloud-amd64', packages: ['linux-image-6.18.15+deb13-cloud-amd64'] });
  });

  it('should pick the newest kernel of the suite for latest', () => {
    expect(debianKernelPackage(BACKPORTS, null)?.abi).toBe('7.3.4+deb13-cloud-amd64');
  });

  it('should prefer the unsigned image of the newest bookworm ABI', () => {
    expect(debianKernelPackage(BOOKWORM, '6.1')).toEqual({ abi: '6.1.0-50-cloud-amd64', packages: ['linux-image-6.1.0-50-cloud-amd64-unsigned'] });
  });

  it('should find nothing for a series the suite lacks', () => {
    expect(debianKernelPackage(BOOKWORM, '6.12')).toBeNull();
  });
});
