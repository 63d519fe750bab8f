export * from './sim';
export { buildProgram } from './main';
