export * from './constants';
export * from './frame';
export * from './protocol-error';
export * from './command-id';
export * from './frame-encoder';
export * from './frame-bodies';
export * from './frame-decoder';
export * from './device-token';
