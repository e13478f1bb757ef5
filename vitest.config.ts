import { defineConfig } from 'vitest/config';

// Four projects: unit tests need nothing; kernel tests need root + BPF on the host; vm tests need QEMU and a kernel image;
// browser tests need root + BPF (they open the report of a real host campaign) and Debian's chromium.
// test/helpers/needs.ts turns a missing requirement into ctx.skip(note), or a failure under CI=true / KPTR_REQUIRE.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.spec.ts'], testTimeout: 60_000 } },
      { test: { name: 'kernel', include: ['test/kernel/**/*.kernel.spec.ts'], testTimeout: 300_000, fileParallelism: false } },
      { test: { name: 'browser', include: ['test/browser/**/*.browser.spec.ts'], testTimeout: 300_000, fileParallelism: false } },
      { test: { name: 'vm', include: ['test/vm/**/*.vm.spec.ts'], testTimeout: 900_000, fileParallelism: false } },
    ],
  },
});
