// The extension's lint: eslint's and typescript-eslint's recommended rules, type-aware, plus
// the promise rules that catch an un-awaited request (a silent failure in a sidebar).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/**', 'node_modules/**', '*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/no-namespace': 'off',
      eqeqeq: 'error',
      'no-console': 'error'
    }
  }
);
