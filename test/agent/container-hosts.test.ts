import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostsFile } from '../../agent/container/setup';
import type { ContainerRecord } from '../../agent/container/record';

function record(hostname: string, domainname: string, extraHosts: string[] = []): ContainerRecord {
  return {
    config: { hostname },
    spec: { domainname, extra_hosts: extraHosts },
    endpoints: { front: { ipAddress: '10.89.0.5', gateway: '10.89.0.1' } },
  } as unknown as ContainerRecord;
}

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1);

test('/etc/hosts names the container by its FQDN first, then its bare host name, as Docker', () => {
  assert.equal(lastLine(hostsFile(record('web', ''))), '10.89.0.5\tweb');
  assert.equal(lastLine(hostsFile(record('web', 'example.org'))), '10.89.0.5\tweb.example.org web');
  assert.equal(lastLine(hostsFile(record('web.corp.example', ''))), '10.89.0.5\tweb.corp.example web');
});

test('/etc/hosts carries extra hosts, with host-gateway as the network gateway', () => {
  const text = hostsFile(record('web', '', ['db:10.9.8.7', 'host.docker.internal:host-gateway']));
  assert.match(text, /^10\.9\.8\.7\tdb$/m);
  assert.match(text, /^10\.89\.0\.1\thost\.docker\.internal$/m);
});
