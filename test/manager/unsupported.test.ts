/** Attributes the loader accepts and the engine doesn't apply: named by `up`, never dropped in silence. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unsupportedAttributes } from '../../manager/project/unsupported';
import { model } from './helpers';

async function warningsOf(service: string) {
  const m = await model(`services:\n  s:\n    image: busybox\n${service}`);
  return unsupportedAttributes(m.services.s!);
}

test('a service using only what the engine applies gets no warning', async () => {
  assert.deepEqual(await warningsOf('    mem_limit: 64m\n    cgroup: host\n    userns_mode: host\n'), []);
});

test('each attribute not applied is named with the reason', async () => {
  assert.deepEqual(await warningsOf('    mem_swappiness: 10\n    cgroup_parent: /mine\n    cgroup: private\n    storage_opt: { size: 1G }\n'), [
    'service "s": storage_opt is ignored: the writable layer has no size limit',
  ]);
  assert.deepEqual(await warningsOf('    blkio_config: { weight: 300 }\n    external_links: [other]\n    cpu_rt_runtime: 950000\n'), [
    'service "s": cpu_rt_runtime is ignored: real-time CPU scheduling is not applied',
  ]);
});

test('a GPU request is refused: the service could not be what the file says', async () => {
  await assert.rejects(warningsOf('    gpus: all\n'), /service "s": GPU devices were requested, and this engine has no device driver for them/);
  await assert.rejects(
    warningsOf('    deploy:\n      resources:\n        reservations:\n          devices: [{ driver: nvidia, count: 1, capabilities: [gpu] }]\n'),
    /GPU devices were requested/,
  );
});

test('a runtime other than runc is refused; runc itself is fine', async () => {
  await assert.rejects(warningsOf('    runtime: runsc\n'), /service "s": runtime "runsc" is not available: this engine runs containers with runc only/);
  assert.deepEqual(await warningsOf('    runtime: runc\n'), []);
});

test('Windows-only settings and per-network attributes not applied are named', async () => {
  assert.deepEqual(await warningsOf('    cpu_percent: 50\n    isolation: hyperv\n'), [
    'service "s": cpu_percent is ignored: a Windows-only setting',
    'service "s": isolation is ignored: a Windows-only setting',
  ]);
  const networks = '    networks:\n      n:\n        ipv6_address: "fd00::5"\n        interface_name: lan0\n        aliases: [x]\n';
  const m = await model(`services:\n  s:\n    image: busybox\n${networks}networks:\n  n: {}\n`);
  assert.deepEqual(unsupportedAttributes(m.services.s!), [
    'service "s": networks.n.interface_name is ignored: interfaces are named eth0, eth1, … in attachment order',
    'service "s": networks.n.ipv6_address is ignored: networks have no IPv6',
  ]);
});

test('cgroup, cgroup_parent and mem_swappiness reach the container spec', async () => {
  const { containerSpecOf } = await import('../../manager/project/container-spec');
  const m = await model('services:\n  s:\n    image: busybox\n    cgroup: private\n    cgroup_parent: /mine\n    mem_swappiness: 0\n  d:\n    image: busybox\n');
  const spec = containerSpecOf({ project: m, service: m.services.s!, number: 1, labels: {} });
  assert.equal(spec.cgroupns_mode, 'private');
  assert.equal(spec.cgroup_parent, '/mine');
  assert.equal(spec.resources.memory_swappiness, 0);
  const plain = containerSpecOf({ project: m, service: m.services.d!, number: 1, labels: {} });
  assert.deepEqual([plain.cgroupns_mode, plain.cgroup_parent, plain.resources.memory_swappiness], ['', '', -1]);
});

test('project-level attributes not applied are named: IPv6, further subnets, bridge options, templates', async () => {
  const { unsupportedProjectAttributes } = await import('../../manager/project/unsupported');
  const m = await model(`
services:
  s:
    image: busybox
    networks: [n]
    configs: [c]
networks:
  n:
    enable_ipv6: true
    driver_opts:
      com.docker.network.bridge.enable_icc: "false"
      com.docker.network.driver.mtu: "1400"
    ipam:
      config:
        - subnet: 10.77.0.0/24
        - subnet: 10.78.0.0/24
configs:
  c:
    content: hello
    template_driver: golang
`);
  assert.deepEqual(unsupportedProjectAttributes(m), [
    'network "n": enable_ipv6 is ignored: networks have no IPv6',
    'network "n": ipam.config is used up to its first entry: a network has one subnet',
    'network "n": driver_opts com.docker.network.bridge.enable_icc is ignored by this engine\'s bridge',
    'config "c": template_driver is ignored: the content is used as it is',
  ]);
  assert.deepEqual(unsupportedProjectAttributes(await model('services:\n  s:\n    image: busybox\n')), []);
});

test('build settings the builder does not apply are named', async () => {
  assert.deepEqual(await warningsOf('    build:\n      context: .\n      cache_from: [x/cache]\n      shm_size: 1g\n      privileged: false\n      network: none\n'), [
    'service "s": build.cache_from is ignored: no cache is imported; the local build cache is used',
    'service "s": build.shm_size is ignored: RUN steps get the default /dev/shm',
  ]);
});

test('Swarm deploy settings without an effect here are named; the job modes say how they run', async () => {
  assert.deepEqual(
    await warningsOf('    deploy:\n      mode: replicated-job\n      endpoint_mode: vip\n      labels: { a: b }\n      update_config: { parallelism: 1, order: start-first }\n      rollback_config: {}\n      placement: { preferences: [{ spread: node.labels.zone }] }\n'),
    [
      'service "s": deploy.labels is ignored: there is no service object to carry them; use labels, which go on the containers',
      'service "s": deploy.placement.preferences is ignored: replicas are spread by their count alone',
      'service "s": deploy.update_config is ignored: a changed service is recreated at once, as Compose does, not rolled one batch at a time',
      'service "s": deploy.endpoint_mode vip is ignored: the service name resolves to its containers\' addresses (dnsrr)',
      'service "s": deploy.mode replicated-job runs as replicated: its containers start once, under the service\'s restart policy, with no completion count',
    ],
  );
  assert.deepEqual(await warningsOf('    deploy:\n      mode: global\n      endpoint_mode: dnsrr\n      placement: { constraints: [node.role==manager] }\n'), []);
});
