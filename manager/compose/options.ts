/** The CLI's project flags (defined on the root program) and their mapping to loader options. */
import type { ProjectOptions } from './pipeline';

export interface GlobalProjectFlags {
  file?: string[];
  projectName?: string;
  profile?: string[];
  envFile?: string[];
  projectDirectory?: string;
}

export function projectOptionsFromFlags(global: GlobalProjectFlags, extra: Partial<ProjectOptions> = {}): ProjectOptions {
  const opts: ProjectOptions = {
    environment: process.env,
    workingDir: process.cwd(),
    ...extra,
  };
  if (global.file && global.file.length > 0) opts.files = global.file;
  if (global.projectName !== undefined) opts.projectName = global.projectName;
  if (global.profile && global.profile.length > 0) opts.profiles = global.profile.flatMap((p) => p.split(',')).filter((p) => p !== '');
  if (global.envFile && global.envFile.length > 0) opts.envFiles = global.envFile;
  if (global.projectDirectory !== undefined) opts.projectDirectory = global.projectDirectory;
  return opts;
}
