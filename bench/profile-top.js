#!/usr/bin/env node
// Summarizes a V8 .cpuprofile: self time by package and function, inclusive time by function.
//
//   node bench/profile-top.js FILE.cpuprofile [--from US --to US] [--top N]
//
// --from/--to limit it to a window in CLOCK_MONOTONIC µs (`npm run bench -- --cpu-prof`
// cuts each server's profile to its measured window and prints this summary itself).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './lib/args.js';
import { renderProfile, summarizeProfile } from './lib/profile.js';

const file = process.argv[2];
if (!file || file.startsWith('--')) {
  console.error('usage: node bench/profile-top.js FILE.cpuprofile [--from US --to US] [--top N]');
  process.exit(2);
}
const args = parseArgs(process.argv.slice(3));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const top = Number(args.top ?? 25);
const summary = summarizeProfile(file, {
  fromUs: Number(args.from ?? -Infinity),
  toUs: Number(args.to ?? Infinity),
  top,
  root,
});
console.log(renderProfile(summary, { self: top, inclusive: top }));
