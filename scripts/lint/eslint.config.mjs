// ESLint for web/: the storefront and the console are plain ES modules run by the browser, with
// no build step. scripts/lint.sh runs this; any finding fails CI.
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {...globals.browser},
    },
    rules: {
      eqeqeq: ['error', 'always'],
      'no-implicit-globals': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
      'no-unused-vars': ['error', {args: 'after-used', argsIgnorePattern: '^_'}],
      'no-shadow': 'error',
      'no-throw-literal': 'error',
    },
  },
];
