/**
 * What the installed nft is, probed once per process, and the one place that decides what
 * nftbridge relies on by version. The long-lived `nft -j -i` session finds the end of a request
 * by nft's exact complaint about an unknown family (nft/session.ts): that text is verified on the
 * 1.0 series, so other versions take the one-shot path (`nft -j -f`), slower but independent of
 * message wording. Everything else nftbridge emits is valid on every version since 1.0.6: each
 * set flushed after `flush table` (1.0.6 keeps elements there), address and port in two maps
 * (1.0.6 cannot map to a concatenation), and unparseable monitor lines counted as changes.
 */
import type { Runner } from '../exec/runner.js';

export interface NftFeatures {
  /** "1.0.6", or "unknown" when `nft --version` said nothing recognisable. */
  version: string;
  /** The `nft -j -i` session and its end-of-request marker can be used. */
  session: boolean;
}

export function featuresOf(versionText: string): NftFeatures {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(versionText);
  if (!m) return { version: 'unknown', session: false };
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return { version: `${major}.${minor}.${patch}`, session: major === 1 && minor === 0 };
}

let probed: Promise<NftFeatures> | undefined;

/** `nft --version`, once per process (every namespace runs the same binary). */
export function nftFeatures(runner: Pick<Runner, 'run'>): Promise<NftFeatures> {
  probed ??= runner.run('nft', ['--version']).then(
    (r) => featuresOf(r.stdout),
    () => featuresOf(''),
  );
  return probed;
}
