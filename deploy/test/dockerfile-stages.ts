import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ROOT } from './deploy-files';

export const DOCKERFILE_TEXT = readFileSync(join(ROOT, 'deploy/docker/Dockerfile'), 'utf8');

export interface Stage { base: string; instructions: Instruction[] }

/** Instructions grouped by build stage (FROM ... AS name), parsed by dockerfile-ast. */
export function dockerfileStages(content: string = DOCKERFILE_TEXT): Map<string, Stage> {
  const parsed = DockerfileParser.parse(content);
  const result = new Map<string, Stage>();
  let current: Stage | undefined;
  for (const instruction of parsed.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = parsed.getFROMs().find((f) => f.getRange().start.line === instruction.getRange().start.line)!;
      current = { base: from.getImageName() ?? '', instructions: [] };
      result.set(from.getBuildStage() ?? `#${result.size}`, current);
    } else {
      current?.instructions.push(instruction);
    }
  }
  return result;
}

/** Arguments of every `keyword` instruction of a stage, flags excluded. */
export function stageArgs(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.getKeyword() === keyword).map((i) => i.getRawArgumentsContent() ?? '');
}

/** The exec-form command an image target starts (ENTRYPOINT, else CMD). */
export function startCommand(target: string): string[] {
  const stage = dockerfileStages().get(target);
  if (!stage) throw new Error(`no stage ${target} in deploy/docker/Dockerfile`);
  return JSON.parse(stageArgs(stage, 'ENTRYPOINT')[0] ?? stageArgs(stage, 'CMD')[0]!) as string[];
}

/** The exec-form HEALTHCHECK command of an image target. */
export function healthcheckCommand(target: string): string[] {
  const raw = stageArgs(dockerfileStages().get(target)!, 'HEALTHCHECK')[0] ?? '';
  const json = /CMD (\[.*\])\s*$/s.exec(raw)?.[1];
  if (!json) throw new Error(`${target}: no exec-form HEALTHCHECK CMD`);
  return JSON.parse(json) as string[];
}
