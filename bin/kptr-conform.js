#!/usr/bin/env -S node --max-semi-space-size=32
// Launcher: load the TypeScript CLI through tsx's loader so the package needs no build step. A campaign's garbage is
// per case and dies young: semi-spaces of 32 MB (V8's default is 16) halve the scavenges (pool threads: threads/taskPool.ts).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
