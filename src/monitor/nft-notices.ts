/**
 * The kernel's nftables notices, read by a perl on a netfilter netlink socket instead of by
 * `nft monitor`. nft decodes every notice whole, elements included, and looks each up in a cache
 * of its own: a rebuild of 10,000 ports is 20,000 element notices, and a delete of that table
 * 20,000 more, which kept `nft -j monitor` busy for about 0.3 s of CPU each, on the same cores
 * as the repair it was reporting (bench: "watch on a large host"). What nftbridge reads of a
 * notice is its type, family, table and name: the script reads those, and a run of notices with
 * the same five is one line with a count.
 *
 * perl-base is essential on Debian; where perl or the socket is missing, the script ends before
 * "ready" and the caller falls back to `nft -j monitor` (monitor/sources.ts).
 */
import type { RulesetEvent } from './events.js';
import { classifyNotice } from './nft-monitor-parse.js';

/**
 * Socket: NETLINK_NETFILTER (12), group NFNLGRP_NFTABLES (7, bit 6 of the bind mask), a receive
 * buffer of 16 MB as nft monitor asks for (forced where allowed), so that a burst waits in the
 * kernel while the script is behind. Messages of subsystem NFNL_SUBSYS_NFTABLES (10); the kernel
 * notifies a destroy as a delete. Attributes: the table is attribute 1 of every object; the name
 * is 1 of a table, 3 of a chain, 2 of a set, an element list (the set), an object and a flowtable;
 * a rule has none. A set with NFT_SET_MAP (8) in its flags (attribute 3) is a "map", as nft says.
 *
 * Out: `ready` once subscribed; `N action object family table name count` (table and name in hex,
 * `-` for none) for a run of alike notices, written when the socket has nothing more; `O` when
 * the socket overflowed and notices were lost.
 *
 * In, one command a line (monitor/notice-gate.ts): `quiet` leaves the group, `loud` joins it
 * again, each answered with its own name once done; `lost` is answered with `O`. A subscriber
 * costs the kernel a message per element committed (by hand, `nft -f` of 20,000 elements:
 * 130-138 ms subscribed, 98-103 ms not), so the daemon leaves while it loads a big document
 * of its own. Commands are read when the socket has nothing more.
 */
const SCRIPT = String.raw`
use strict; use Socket qw(SOCK_RAW); use IO::Handle;
socket(my $s, 16, SOCK_RAW, 12) or die "netlink socket: $!\n";
setsockopt($s, 1, 33, pack('i', 16 << 20)) or setsockopt($s, 1, 8, pack('i', 16 << 20));
bind($s, pack('SSLL', 16, 0, 0, 1 << 6)) or die "bind: $!\n";
print "ready\n"; STDOUT->flush;
my %fam = (1 => 'inet', 2 => 'ip', 3 => 'arp', 5 => 'netdev', 7 => 'bridge', 10 => 'ip6');
my %what = (0 => ['add', 'table', 1], 2 => ['delete', 'table', 1], 3 => ['add', 'chain', 3], 5 => ['delete', 'chain', 3],
  6 => ['add', 'rule', 0], 8 => ['delete', 'rule', 0], 9 => ['add', 'set', 2], 11 => ['delete', 'set', 2],
  12 => ['add', 'element', 2], 14 => ['delete', 'element', 2], 18 => ['add', 'object', 2], 20 => ['delete', 'object', 2],
  22 => ['add', 'flowtable', 2], 24 => ['delete', 'flowtable', 2]);
my ($run, $n) = ('', 0);
sub flush_run { print "N $run $n\n" if $n; ($run, $n) = ('', 0); }
my $bits = ''; vec($bits, fileno($s), 1) = 1; vec($bits, fileno(STDIN), 1) = 1;
my $in = '';
sub command {
  my ($c) = @_;
  # SOL_NETLINK (270): NETLINK_DROP_MEMBERSHIP (2), NETLINK_ADD_MEMBERSHIP (1), group 7.
  if ($c eq 'quiet') { setsockopt($s, 270, 2, pack('i', 7)); print "quiet\n"; }
  elsif ($c eq 'loud') { setsockopt($s, 270, 1, pack('i', 7)); print "loud\n"; }
  elsif ($c eq 'lost') { print "O\n"; }
}
for (;;) {
  my $from = recv($s, my $buf, 1 << 20, 0x40);
  if (!defined $from) {
    if ($!{ENOBUFS}) { flush_run(); print "O\n"; next; }
    next if $!{EINTR};
    die "recv: $!\n" unless $!{EAGAIN};
    flush_run(); STDOUT->flush;
    my $r = $bits; select($r, undef, undef, undef);
    if (vec($r, fileno(STDIN), 1)) {
      # End of input (nobody sends commands): only the socket is waited on from now.
      if (!sysread(STDIN, $in, 4096, length $in)) { vec($bits, fileno(STDIN), 1) = 0; next; }
      command($1) while $in =~ s/^([^\n]*)\n//;
      STDOUT->flush;
    }
    next;
  }
  for (my $off = 0; $off + 20 <= length $buf; ) {
    my ($len, $type) = unpack("x$off LS", $buf);
    last if $len < 16;
    my $w = ($type >> 8) == 10 ? $what{$type & 0xff} : undef;
    if ($w) {
      my $family = $fam{unpack('x' . ($off + 16) . ' C', $buf)} // 'other';
      my ($table, $name, $flags) = ('', '', 0);
      for (my $at = $off + 20; $at + 4 <= $off + $len; ) {
        my ($alen, $atype) = unpack("x$at SS", $buf);
        last if $alen < 4;
        $atype &= 0x3fff;
        my $v = substr($buf, $at + 4, $alen - 4);
        $table = $v if $atype == 1;
        $name = $v if $w->[2] && $atype == $w->[2];
        $flags = unpack('N', $v) if $w->[1] eq 'set' && $atype == 3;
        $at += ($alen + 3) & ~3;
      }
      s/\0.*//s for $table, $name;
      my $object = $w->[1] eq 'set' && ($flags & 8) ? 'map' : $w->[1];
      my $key = join(' ', $w->[0], $object, $family, unpack('H*', $table) || '-', unpack('H*', $name) || '-');
      if ($key ne $run) { flush_run(); $run = $key; }
      $n++;
    }
    $off += ($len + 3) & ~3;
  }
}
`;

/** The perl's command line; its last argument names it in a process listing. */
export const NOTICES_COMMAND = ['perl', ['-e', SCRIPT, 'nft-monitor']] as const;

const text = (hex: string | undefined): string => (hex === undefined || hex === '-' ? '' : Buffer.from(hex, 'hex').toString());

/**
 * One line of the script: what nft-monitor-parse.ts makes of the same notices printed by
 * `nft -j monitor` (the owned table's events; another table's tables, chains and rules as
 * foreign), with `count` for a run of more than one. A lost notice could be anybody's: it is
 * reported as foreign too, so that the table and the host firewall are both looked at.
 */
export function parseNftNotice(line: string, family: string, table: string): RulesetEvent | 'ready' | undefined {
  if (line === 'ready') return 'ready';
  if (line === 'quiet' || line === 'loud') return undefined; // answers to the gate (sources.ts)
  if (line === 'O') return { type: 'ruleset', action: 'lost', object: 'unknown', foreign: 'unknown' };
  const [tag, action, object, fam = '', tableHex, nameHex, n] = line.split(' ');
  if (tag !== 'N' || !action || !object) return undefined;
  return classifyNotice({ action, object, family: fam, table: text(tableHex), name: text(nameHex), count: Number(n) }, family, table);
}
