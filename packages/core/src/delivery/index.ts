/** The internal delivery contract between dispatchers and ingress replicas: path, item and answer-line shapes, their checks and codecs. */
export * from './contract';
export * from './codec';
