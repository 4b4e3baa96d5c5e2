import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rejects, service } from './helpers';

describe('ports', () => {
  test('short syntax in all its spec forms', async () => {
    const svc = await service(`services:
  web:
    image: x
    ports:
      - "3000"
      - "3001-3002"
      - "8000:8000"
      - "9090-9091:8080-8081"
      - "49100:22"
      - "127.0.0.1:8001:8001"
      - "127.0.0.1:5000-5010:5000"
      - "6060:6060/udp"
      - "[::1]:6001:6001"
      - 4000
`);
    assert.deepEqual(svc.ports, [
      { mode: 'ingress', target: 3000, protocol: 'tcp' },
      { mode: 'ingress', target: 3001, protocol: 'tcp' },
      { mode: 'ingress', target: 3002, protocol: 'tcp' },
      { mode: 'ingress', target: 8000, published: '8000', protocol: 'tcp' },
      { mode: 'ingress', target: 8080, published: '9090', protocol: 'tcp' },
      { mode: 'ingress', target: 8081, published: '9091', protocol: 'tcp' },
      { mode: 'ingress', target: 22, published: '49100', protocol: 'tcp' },
      { mode: 'ingress', host_ip: '127.0.0.1', target: 8001, published: '8001', protocol: 'tcp' },
      { mode: 'ingress', host_ip: '127.0.0.1', target: 5000, published: '5000-5010', protocol: 'tcp' },
      { mode: 'ingress', target: 6060, published: '6060', protocol: 'udp' },
      { mode: 'ingress', host_ip: '::1', target: 6001, published: '6001', protocol: 'tcp' },
      { mode: 'ingress', target: 4000, protocol: 'tcp' },
    ]);
  });

  test('long syntax keeps name, app_protocol and host mode; published becomes a string', async () => {
    const svc = await service(`services:
  web:
    image: x
    ports:
      - name: web
        target: "80"
        host_ip: 127.0.0.1
        published: 8080
        protocol: TCP
        app_protocol: http
        mode: host
`);
    assert.deepEqual(svc.ports, [{ name: 'web', mode: 'host', host_ip: '127.0.0.1', target: 80, published: '8080', protocol: 'tcp', app_protocol: 'http' }]);
  });

  test('bad ports are located errors', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    ports: ["80:80/tcpx"]\n' }, [/compose.yaml:4:\d+/, /services\.web\.ports\[0\]/, /invalid protocol "tcpx"/]);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    ports: ["70000:80"]\n' }, [/out of range|0-65535/]);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    ports: ["8000-8002:80-81"]\n' }, [/differ in length/]);
  });

  test('the same host port in two services loads (up refuses it, ps and down must not); other addresses are fine', async () => {
    const both = await service('services:\n  a:\n    image: x\n    ports: ["8080:80"]\n  b:\n    image: x\n    ports: ["8080:81"]\n', 'b');
    assert.equal((both.ports as { published: string }[])[0]?.published, '8080');
    const svc = await service('services:\n  web:\n    image: x\n    ports: ["127.0.0.1:8080:80", "127.0.0.2:8080:80", "8080:80/udp"]\n');
    assert.equal((svc.ports as unknown[]).length, 3);
  });
});
