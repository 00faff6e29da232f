import { dirname, resolve } from 'node:path'
import ts from 'typescript'
import type { Plugin } from 'vite'

/** The two TypeScript decorator settings our decorators must work under. */
export type DecoratorMode = 'legacy' | 'standard'

const MODE_OPTIONS: Record<DecoratorMode, ts.CompilerOptions> = {
  // What NestJS and TypeORM apps compile with; tests load reflect-metadata themselves.
  legacy: { experimentalDecorators: true, emitDecoratorMetadata: true },
  // TC39 decorators as TypeScript 5 emits them for ES2022 (no native decorators in Node 20).
  standard: { experimentalDecorators: false, emitDecoratorMetadata: false },
}

/**
 * Vite plugin: a module imported as `./file.ts?decorators=legacy|standard` is compiled by the
 * TypeScript compiler (not esbuild, which emits no decorator metadata) with that decorator
 * setting on top of the package tsconfig, and type-checked: any diagnostic in the file fails
 * the importing test file. One source, two compilations.
 */
export function decoratorModes(tsconfigPath: string): Plugin {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    tsconfigPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
      },
    },
  )
  if (parsed === undefined) throw new Error(`Cannot read ${tsconfigPath}`)
  const cache = new Map<string, { code: string; map: string | undefined }>()
  return {
    name: 'steadfast:decorator-modes',
    enforce: 'pre',
    transform(_code, id) {
      const [file, query = ''] = id.split('?', 2) as [string, string?]
      const mode = new URLSearchParams(query).get('decorators')
      if (mode !== 'legacy' && mode !== 'standard') return undefined
      const key = `${mode}:${file}`
      let compiled = cache.get(key)
      if (compiled === undefined) {
        compiled = compile(resolve(file), {
          ...parsed.options,
          ...MODE_OPTIONS[mode],
          noEmit: false,
          declaration: false,
          declarationMap: false,
          sourceMap: true,
          inlineSources: true,
          rootDir: dirname(tsconfigPath),
        })
        cache.set(key, compiled)
      }
      return compiled
    },
  }
}

function compile(
  file: string,
  options: ts.CompilerOptions,
): { code: string; map: string | undefined } {
  const program = ts.createProgram([file], options)
  const source = program.getSourceFile(file)
  if (source === undefined) throw new Error(`TypeScript did not load ${file}`)
  const diagnostics = ts.getPreEmitDiagnostics(program, source)
  if (diagnostics.length > 0) {
    throw new Error(
      ts.formatDiagnostics(diagnostics, {
        getCanonicalFileName: (name) => name,
        getCurrentDirectory: () => process.cwd(),
        getNewLine: () => '\n',
      }),
    )
  }
  let code: string | undefined
  let map: string | undefined
  program.emit(source, (name, text) => {
    if (name.endsWith('.map')) map = text
    else if (/\.[cm]?js$/.test(name)) code = text.replace(/\/\/# sourceMappingURL=.*$/m, '')
  })
  if (code === undefined) throw new Error(`TypeScript emitted nothing for ${file}`)
  return { code, map }
}
