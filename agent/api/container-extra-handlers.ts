/**
 * Engine RPCs that look inside containers: top, stats, cp both ways, commit and export
 * (logic in agent/container/extras.ts).
 */
import type { ServerReadableStream, ServerWritableStream } from '@grpc/grpc-js';
import { invalidArgument } from '../../common/errors';
import type { Agent } from '../agent';
import { commitContainer, containerChanges, containerStats, containerTop, copyFromContainer, copyToContainer, exportContainer, type StatsEntry } from '../container/extras';
import { grpcByteSink } from './engine-server';
import { bytesOf, clientStream, serverStream, unary, type Handlers } from './grpc-util';

interface CopyToHeader {
  id: string;
  path: string;
  copy_uid_gid: boolean;
}

function toStatsMessage(e: StatsEntry) {
  return {
    id: e.id,
    name: e.name,
    cpu_percent: e.cpuPercent,
    memory_usage: e.memoryUsage,
    memory_limit: e.memoryLimit,
    memory_percent: e.memoryPercent,
    net_rx: e.netRx,
    net_tx: e.netTx,
    block_read: e.blockRead,
    block_write: e.blockWrite,
    pids: e.pids,
    read_nano: e.readNano,
  };
}

/** Aborts when the client goes away, so streaming work stops and releases what it holds. */
function cancellation(call: ServerWritableStream<unknown, unknown>): AbortSignal {
  const ac = new AbortController();
  const abort = () => ac.abort();
  call.once('cancelled', abort);
  call.once('close', abort);
  if (call.cancelled) abort();
  return ac.signal;
}

export function containerExtraHandlers(agent: Agent): Handlers {
  return {
    ContainerTop: unary(async (req: { id: string; ps_args: string[] }) => {
      const table = await containerTop(agent, req.id, req.ps_args);
      return { titles: table.titles, processes: table.processes.map((columns) => ({ columns })) };
    }),

    ContainerStats: serverStream(async (req: { ids: string[]; stream: boolean; all: boolean }, call: ServerWritableStream<unknown, unknown>) => {
      const signal = cancellation(call);
      for await (const entry of containerStats(agent, { ids: req.ids, stream: req.stream, all: req.all }, signal)) {
        call.write(toStatsMessage(entry));
      }
    }),

    ContainerCopyFrom: serverStream(async (req: { id: string; path: string; follow_link: boolean }, call: ServerWritableStream<unknown, { data: Buffer }>) => {
      await copyFromContainer(agent, req.id, req.path, grpcByteSink(call), {
        followLink: req.follow_link,
        signal: cancellation(call as ServerWritableStream<unknown, unknown>),
      });
    }),

    ContainerCopyTo: clientStream(async (call: ServerReadableStream<unknown, unknown>) => {
      const it = call[Symbol.asyncIterator]() as AsyncIterator<{ header?: CopyToHeader; data?: Buffer }>;
      const first = await it.next();
      const header = first.done ? undefined : first.value.header;
      if (!header) throw invalidArgument('container copy: the stream must start with a header');
      const rest = bytesOf({ [Symbol.asyncIterator]: () => it } as never);
      await copyToContainer(agent, header.id, header.path, rest, { copyUidGid: header.copy_uid_gid });
      return {};
    }),

    ContainerCommit: unary(async (req: { id: string; reference: string; changes: string[]; message: string; author: string; pause: boolean }) => ({
      id: await commitContainer(agent, req.id, {
        reference: req.reference || undefined,
        changes: req.changes,
        message: req.message || undefined,
        author: req.author || undefined,
        pause: req.pause,
      }),
    })),

    ContainerDiff: unary(async (req: { id: string }) => ({ changes: await containerChanges(agent, req.id) })),
    ContainerExport: serverStream(async (req: { id: string }, call: ServerWritableStream<unknown, { data: Buffer }>) => {
      await exportContainer(agent, req.id, grpcByteSink(call), cancellation(call as ServerWritableStream<unknown, unknown>));
    }),
  };
}
