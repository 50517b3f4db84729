/**
 * The ruleset generation of a network namespace: a number the kernel adds one to with every
 * nftables transaction committed there, by anyone (a transaction that changes nothing, or fails,
 * leaves it). Equal numbers mean nothing in nftables changed in between, which lets a check of a
 * table of 10,000 map elements cost a read of one number instead of a listing (README
 * "Performance": the "large host" rows).
 *
 * nft does not print it, so a long-lived perl (perl-base is essential on Debian) asks the kernel
 * itself: NFT_MSG_GETGEN on a netfilter netlink socket, answered with NFTA_GEN_ID. Where perl or
 * the socket is missing, the generation is unknown and every check lists the table as before.
 */
import { readFileSync } from 'node:fs';
import type { Runner } from '../exec/runner.js';
import { PerlScript } from '../exec/perl.js';

/** One request per input line: NFT_MSG_GETGEN (0x0a10) out, NFT_MSG_NEWGEN (0x0a0f) back, NFTA_GEN_ID (1) in it. */
const SCRIPT = String.raw`
use strict; use Socket;
$| = 1;
socket(my $s, 16, SOCK_RAW, 12) or die "netlink socket: $!\n";
# The namespace's cookie (SO_NETNS_COOKIE, 71): never given to another namespace in this boot.
# perl's getsockopt asks with a buffer the kernel refuses, so the syscall itself, where known.
my ($nr, $cookie) = ($ARGV[0] // 0, 0);
if ($nr) { my ($buf, $len) = ("\0" x 8, pack('L', 8)); $cookie = unpack('Q', $buf) if syscall($nr, fileno($s), 1, 71, $buf, $len) == 0; }
my $seq = 0;
while (my $line = <STDIN>) {
  if ($line =~ /^marker (\d+)/) { print STDERR "end $1\n"; next; }
  $seq++;
  send($s, pack('LSSLL', 20, 0xa10, 1, $seq, 0) . pack('CCn', 0, 0, 0), 0, pack('Sx2LL', 16, 0, 0)) or die "send: $!\n";
  defined(recv($s, my $buf, 65536, 0)) or die "recv: $!\n";
  my ($len, $type) = unpack('LS', $buf);
  my $gen;
  if ($type == 0xa0f) {
    for (my $off = 20; $off + 8 <= $len; ) {
      my ($alen, $atype) = unpack("x$off SS", $buf);
      last if $alen < 4;
      $gen = unpack('x' . ($off + 4) . ' N', $buf) if ($atype & 0x3fff) == 1;
      $off += ($alen + 3) & ~3;
    }
  }
  print defined $gen ? "gen $gen $cookie\n" : "unknown $type\n";
}
`;

/** getsockopt's syscall number, by architecture (perl-base has no syscall.ph). */
const GETSOCKOPT: Partial<Record<string, number>> = { x64: 55, arm64: 209 };

let bootId: string | null | undefined;
const thisBoot = (): string | null => {
  if (bootId === undefined)
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootId = null;
    }
  return bootId;
};

export class RulesetGeneration {
  private readonly perl: PerlScript;

  constructor(netns: string | undefined, runner: Pick<Runner, 'spawn'>) {
    this.perl = new PerlScript(SCRIPT, netns, runner, [String(GETSOCKOPT[process.arch] ?? 0)]);
  }

  /**
   * Which namespace the generations are of, unique across namespaces and boots (this boot's id
   * and the namespace's cookie); undefined until a generation was read, or where it is unknown.
   * Generations start again at 1 in every new namespace, so a number alone names no ruleset.
   */
  namespace: string | undefined;

  /** The generation now, or undefined when it cannot be read. */
  async read(): Promise<number | undefined> {
    const answer = await this.perl.request(
      'gen',
      (output) => output.length > 0,
      (a) => /^gen \d+ \d+$/.test(a.output[0] ?? ''),
    );
    const [, gen, cookie] = answer?.output[0]?.split(' ') ?? [];
    const boot = thisBoot();
    if (boot && cookie !== undefined && cookie !== '0') this.namespace ??= `${boot}/${cookie}`;
    return gen === undefined ? undefined : Number(gen);
  }

  close(): Promise<void> {
    return this.perl.close();
  }
}
