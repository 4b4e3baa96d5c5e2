import { execCapture, execOk } from './exec';

/** Chains the portmap plugin shares between all containers. */
const PORTMAP_CHAINS = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK'];

/** What the forward rules need to know about one bridge network. */
export interface FirewalledBridge {
  bridge: string;
  /** IPv4 CIDR of the network: what its masquerade rule matches. */
  subnet: string;
  internal: boolean;
}

/**
 * Our forwarding rules, in chains we own in the filter table and jump to from the top of FORWARD.
 * They let our bridges work whatever the FORWARD policy is (Docker sets it to DROP and turns on
 * br_netfilter, so even traffic between two containers of one bridge passes FORWARD), and they
 * isolate networks from each other the way Docker does:
 *
 * - internal network: nothing enters or leaves the bridge, traffic inside it is accepted;
 * - other networks: replies and DNAT'ed traffic (published ports) may enter, anything may leave
 *   except towards another of our bridges (the isolation chain drops that).
 *
 * Outgoing traffic of a network that is not internal is masqueraded by one rule per network in
 * our nat chain (jumped to from the top of POSTROUTING), as Docker does, rather than by the CNI
 * bridge plugin's rules per container, which cost it about eight iptables runs per ADD and DEL.
 *
 * The chains are rewritten whole from the list of networks on every change (one iptables-restore
 * transaction), so there is never a stale rule to hunt for.
 */
export class BridgeFirewall {
  readonly forwardChain: string;
  readonly isolationChain: string;
  readonly natChain: string;

  constructor(chainPrefix = 'TSCOMPOSE') {
    this.forwardChain = `${chainPrefix}-FORWARD`;
    this.isolationChain = `${chainPrefix}-ISOLATION`;
    this.natChain = `${chainPrefix}-POSTROUTING`;
  }

  /**
   * Masquerade of what a network's containers send elsewhere. `! -d <subnet>` leaves out the
   * host talking to the gateway address itself (over lo, from that same address): masqueraded,
   * it would reach the embedded DNS server from 127.0.0.1, which answers only its own subnet.
   */
  natRulesFor(networks: readonly FirewalledBridge[]): string[] {
    return networks.filter((n) => !n.internal).map((n) => `-s ${n.subnet} ! -d ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
  }

  rulesFor(networks: readonly FirewalledBridge[]): { forward: string[]; isolation: string[] } {
    const forward: string[] = [];
    const isolation: string[] = [];
    const internal = networks.filter((n) => n.internal);
    const open = networks.filter((n) => !n.internal);
    for (const n of internal) {
      forward.push(`-i ${n.bridge} ! -o ${n.bridge} -j DROP`, `! -i ${n.bridge} -o ${n.bridge} -j DROP`);
    }
    for (const n of open) {
      forward.push(
        `-o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        `-o ${n.bridge} -m conntrack --ctstate DNAT -j ACCEPT`,
      );
    }
    for (const n of open) {
      forward.push(`-i ${n.bridge} ! -o ${n.bridge} -j ${this.isolationChain}`);
      isolation.push(`-o ${n.bridge} -j DROP`);
    }
    for (const n of networks) forward.push(`-i ${n.bridge} -o ${n.bridge} -j ACCEPT`);
    for (const n of open) forward.push(`-i ${n.bridge} -j ACCEPT`);
    return { forward, isolation };
  }

  /** Makes our chains hold exactly the rules for `networks`; with none, removes the chains. */
  async apply(networks: readonly FirewalledBridge[]): Promise<void> {
    if (networks.length === 0) {
      await this.remove();
      return;
    }
    const { forward, isolation } = this.rulesFor(networks);
    const script = [
      '*filter',
      `:${this.forwardChain} - [0:0]`,
      `:${this.isolationChain} - [0:0]`,
      `-F ${this.forwardChain}`,
      `-F ${this.isolationChain}`,
      ...forward.map((r) => `-A ${this.forwardChain} ${r}`),
      ...isolation.map((r) => `-A ${this.isolationChain} ${r}`),
      'COMMIT',
      '*nat',
      `:${this.natChain} - [0:0]`,
      `-F ${this.natChain}`,
      ...this.natRulesFor(networks).map((r) => `-A ${this.natChain} ${r}`),
      'COMMIT',
      '',
    ].join('\n');
    await execOk('iptables-restore', ['-w', '--noflush'], script);
    // Our jumps, checked side by side: a network create (and so compose up) waits here.
    const ensureJump = async (table: string, from: string, to: string) => {
      if ((await execCapture('iptables', ['-w', '-t', table, '-C', from, '-j', to])).code !== 0) {
        await execOk('iptables', ['-w', '-t', table, '-I', from, '1', '-j', to]);
      }
    };
    await Promise.all([ensureJump('filter', 'FORWARD', this.forwardChain), ensureJump('nat', 'POSTROUTING', this.natChain)]);
  }

  /**
   * Moves our jump back to the top of FORWARD (one atomic transaction), as Docker does with
   * DOCKER-USER at start: a firewall reloaded or another tool started while we were down may have
   * put rules above it that drop or reject our bridges' traffic.
   */
  async promote(): Promise<void> {
    const rules = (await execOk('iptables', ['-w', '-S', 'FORWARD'])).split('\n').filter((l) => l.startsWith('-A FORWARD '));
    const jump = `-A FORWARD -j ${this.forwardChain}`;
    if (rules[0] === jump) return;
    const deletes = rules.filter((l) => l === jump).map(() => `-D FORWARD -j ${this.forwardChain}`);
    await execOk('iptables-restore', ['-w', '--noflush'], ['*filter', ...deletes, `-I FORWARD 1 -j ${this.forwardChain}`, 'COMMIT', ''].join('\n'));
  }

  async remove(): Promise<void> {
    for (let i = 0; i < 16; i++) {
      if ((await execCapture('iptables', ['-w', '-D', 'FORWARD', '-j', this.forwardChain])).code !== 0) break;
    }
    for (const chain of [this.forwardChain, this.isolationChain]) {
      await execCapture('iptables', ['-w', '-F', chain]);
    }
    for (const chain of [this.forwardChain, this.isolationChain]) {
      await execCapture('iptables', ['-w', '-X', chain]);
    }
    for (let i = 0; i < 16; i++) {
      if ((await execCapture('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-j', this.natChain])).code !== 0) break;
    }
    await execCapture('iptables', ['-w', '-t', 'nat', '-F', this.natChain]);
    await execCapture('iptables', ['-w', '-t', 'nat', '-X', this.natChain]);
  }
}

/**
 * Deletes the NAT rules the CNI plugins left for a container whose network namespace is already
 * gone: the bridge plugin finds its masquerade rules by reading addresses inside the namespace,
 * so it cannot clean them up then. The plugins tag every rule with `id: "<container id>"`.
 */
export async function sweepCniRulesOf(containerId: string, networkName: string): Promise<void> {
  // Comments look like `name: \"<network>\" id: \"<container>\"` once iptables-save escapes them.
  const dump = await execOk('iptables-save', ['-t', 'nat']);
  const chains = new Set<string>();
  const rules: string[] = [];
  for (const line of dump.split('\n')) {
    if (!line.startsWith('-A ') || !line.includes(containerId) || !line.includes(networkName)) continue;
    rules.push(line);
    const target = /-j (\S+)/.exec(line)?.[1];
    if (target?.startsWith('CNI-') && !PORTMAP_CHAINS.includes(target)) chains.add(target);
  }
  for (const rule of rules) {
    await execCapture('iptables-restore', ['-w', '--noflush'], {
      input: `*nat\n${rule.replace(/^-A /, '-D ')}\nCOMMIT\n`,
    });
  }
  for (const chain of chains) {
    await execCapture('iptables', ['-w', '-t', 'nat', '-F', chain]);
    await execCapture('iptables', ['-w', '-t', 'nat', '-X', chain]);
  }
}

/**
 * The portmap plugin creates shared nat chains on first use and never removes them. Once no
 * container on the host (ours or another CNI runtime's) has a published port, the DNAT chain is
 * empty and the three chains with their jumps can go; portmap recreates them when needed.
 */
export async function removeIdlePortmapChains(): Promise<void> {
  const dump = await execOk('iptables-save', ['-t', 'nat']);
  const lines = dump.split('\n');
  if (!lines.some((l) => l === ':CNI-HOSTPORT-DNAT - [0:0]' || l.startsWith(':CNI-HOSTPORT-DNAT '))) return;
  if (lines.some((l) => l.startsWith('-A CNI-HOSTPORT-DNAT '))) return;
  const jumps = lines.filter((l) => l.startsWith('-A ') && PORTMAP_CHAINS.some((c) => l.endsWith(`-j ${c}`)));
  for (const rule of jumps) {
    await execCapture('iptables-restore', ['-w', '--noflush'], { input: `*nat\n${rule.replace(/^-A /, '-D ')}\nCOMMIT\n` });
  }
  for (const chain of PORTMAP_CHAINS) await execCapture('iptables', ['-w', '-t', 'nat', '-F', chain]);
  for (const chain of PORTMAP_CHAINS) await execCapture('iptables', ['-w', '-t', 'nat', '-X', chain]);
}
