/**
 * Redis server CPU so far (INFO cpu: used_cpu_user, used_cpu_sys, seconds). A delta over a run
 * divided by its commands is the Redis CPU per command the benches report: steadier on a shared
 * host than rates, and unlike INFO commandstats it counts what a busy server spends between calls.
 */
export async function redisCpu(client: { info(section: string): Promise<string> }): Promise<{ user: number; sys: number }> {
  const text = await client.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(text)?.[1] ?? 0);
  return { user: field('used_cpu_user'), sys: field('used_cpu_sys') };
}

/** redisCpu, user and system together. */
export async function redisCpuSeconds(client: { info(section: string): Promise<string> }): Promise<number> {
  const { user, sys } = await redisCpu(client);
  return user + sys;
}
