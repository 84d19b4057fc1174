// @ts-check
// ESLint 9 flat config. Type-aware rules run on every .ts and .js file that a tsconfig.json owns:
// package sources through packages/*/tsconfig.json, everything else (tests, bench, scripts, root
// configs) through the root tsconfig.json (= tsconfig.test.json). Formatting is Prettier's job.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    '**/dist/',
    '**/node_modules/',
    '**/coverage/',
    'bench/out/',
    // The dashboard's Node entry, compiled by tsc -b (the app itself is bundled into dist/).
    'packages/dashboard/lib/',
    '.offload-data/',
    '**/*.tsbuildinfo',
  ]),
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // TypeScript reports undefined names, with the right globals (types: ["node"]).
      'no-undef': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports' },
      ],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      // A sync implementation of an async interface (better-sqlite3 behind the Store) is normal.
      '@typescript-eslint/require-await': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['**/test/**', 'tests/**', 'bench/**'],
    rules: {
      // `expect(store.jobsClaim).toHaveBeenCalled()` passes a method without calling it.
      '@typescript-eslint/unbound-method': 'off',
      // Tests read untyped JSON (`res.json().error.code`) and check it with assertions at run
      // time; typing every response body there would add casts, not safety. Sources stay strict.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JS launchers outside every tsconfig (kept JS so npm can link them before a build).
    files: ['packages/*/bin/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
