/**
 * The kernel's own notices of link, address and route changes in one namespace, read on demand:
 * a long-lived perl holds a NETLINK_ROUTE socket subscribed to them, and each request hands over
 * what queued since the last one. The kernel queues a notice before the change's request returns,
 * so a drain sees every change made before it began. LinkView keeps a dump of links current with
 * them, instead of dumping 1,000 links (about 1 MB of `ip -j`) on every look (README
 * "Performance": the "large host" and "watch on a large host" rows).
 *
 * perl-base is essential on Debian; without perl (or the socket) the notices are unavailable and
 * every look dumps, as before.
 */
import type { Runner } from '../exec/runner.js';
import { PerlScript } from '../exec/perl.js';

/**
 * Groups: RTMGRP_LINK 0x1, IPV4_IFADDR 0x10, IPV4_ROUTE 0x40, IPV6_IFADDR 0x100, IPV6_ROUTE 0x400.
 * Out, one line per notice: `L+ index flags master group kind name alias` (strings in hex),
 * `L- index`, `A+`/`A- index family prefixlen scope address`, `R` (a route changed), `O` (the
 * socket overflowed: notices were lost), `P path` (in hex: a mount point of the caller's mount
 * namespace that came, went or changed, so a namespace path at or under it may name another
 * namespace now). Link notices of family AF_BRIDGE (a port's bridge details, and its "delete"
 * when it leaves the bridge) are not the link's and are skipped.
 *
 * Mounts: poll(2) on /proc/self/mountinfo reports a change since the last poll as an exceptional
 * condition (and the poll takes the report). The script waits for those between requests and
 * compares the mount table at once, on its own core, so a request after a container came or went
 * (a mount under /run/netns) finds the comparison made; a request still polls first.
 * The comparison is of mount IDs, from listmount(2) (Linux 6.8+), with statmount(2) asked only for
 * a new mount's point: a change costs what changed. Reading mountinfo instead generates the text
 * of every mount, each namespace's bind mount included (the "large host" bench rows). Where
 * listmount fails, or lists fewer mounts than mountinfo (a kernel that lists one mount's
 * children only), the script compares mountinfo's lines.
 */
const SCRIPT = String.raw`
use strict; use Socket qw(SOCK_RAW inet_ntop);
$| = 1;
socket(my $s, 16, SOCK_RAW, 0) or die "netlink socket: $!\n";
# A burst (a down of hundreds of links) must fit until the next drain: 8 MB, forced where allowed.
setsockopt($s, 1, 33, pack('i', 8 << 20)) or setsockopt($s, 1, 8, pack('i', 8 << 20));
bind($s, pack('SSLL', 16, 0, 0, 0x551)) or die "bind: $!\n";
open(my $mounts, '<', '/proc/self/mountinfo') or die "mountinfo: $!\n";
my ($mbits, $ibits) = ('', '');
vec($mbits, fileno($mounts), 1) = 1;
vec($ibits, fileno(STDIN), 1) = 1;
# The mount table as a set of its lines: a line that came or went names a mount point that changed.
sub mount_table { seek($mounts, 0, 0); local $/; my $t = <$mounts> // ''; return { map { $_ => 1 } split /\n/, $t }; }
# listmount(2) and statmount(2): the same numbers on every architecture but alpha and mips.
sub mount_ids {
  my ($last, @ids) = (0);
  for (;;) {
    my $buf = "\0" x 8192;
    my $n = syscall(458, pack('LLQQ', 24, 0, 0xffffffffffffffff, $last), $buf, 1024, 0);
    return undef if $n < 0;
    push @ids, unpack("Q$n", $buf);
    return \@ids if $n < 1024;
    $last = $ids[-1];
  }
}
sub mount_point {
  for my $size (4608, 65536) {
    my $buf = "\0" x $size;
    next if syscall(457, pack('LLQQ', 24, 0, $_[0], 0x10), $buf, $size, 0) < 0;
    my $p = substr($buf, 512 + unpack('x108 L', $buf)); $p =~ s/\0.*//s;
    return $p;
  }
  return undef;
}
my $table = mount_table();
my $ids = ($ARGV[0] // '') eq 'mountinfo' ? undef : mount_ids();
my %points;
if ($ids and @$ids == keys %$table) { %points = map { ($_ => mount_point($_) // '') } @$ids; $table = undef; }
# Which of the two this script uses, told with the first answer.
my @pending = ($table ? "M lines\n" : "M ids\n");
sub mounts_moved { my $e = $mbits; compare_mounts() if select(undef, undef, $e, 0) > 0; }
sub moved { my $p = shift; push @pending, 'P ' . unpack('H*', $p) . "\n"; }
sub compare_mounts {
  if (!$table) {
    my $now = mount_ids();
    if ($now) {
      my %seen;
      for my $id (@$now) {
        $seen{$id} = 1;
        next if exists $points{$id};
        my $p = mount_point($id);
        next unless defined $p; # gone again already
        $points{$id} = $p;
        moved($p);
      }
      for my $id (grep { !$seen{$_} } keys %points) { moved($points{$id}); delete $points{$id}; }
      return;
    }
    # listmount stopped working (a seccomp filter, say): every known point moved, and mountinfo from now on.
    moved($_) for values %points;
    push @pending, "M lines\n";
    %points = ();
    $table = mount_table();
    return;
  }
  my $now = mount_table();
  my %moved;
  for my $l (grep { !$table->{$_} } keys %$now) { $moved{(split / /, $l)[4] // ''} = 1; }
  for my $l (grep { !$now->{$_} } keys %$table) { $moved{(split / /, $l)[4] // ''} = 1; }
  for my $p (keys %moved) {
    (my $path = $p) =~ s/\\([0-7]{3})/chr(oct($1))/ge;
    moved($path);
  }
  $table = $now;
}
sub attrs {
  my ($buf, $off, $end) = @_; my %a;
  while ($off + 4 <= $end) {
    my ($len, $type) = unpack("x$off SS", $buf);
    last if $len < 4;
    $a{$type & 0x3fff} = substr($buf, $off + 4, $len - 4);
    $off += ($len + 3) & ~3;
  }
  return \%a;
}
sub str { my $v = shift // ''; $v =~ s/\0.*//s; return unpack('H*', $v) || '-'; }
sub drain {
  for (;;) {
    my $from = recv($s, my $buf, 1 << 20, 0x40);
    if (!defined $from) { if ($!{ENOBUFS}) { print "O\n"; next; } last; }
    for (my $off = 0; $off + 16 <= length $buf; ) {
      my ($len, $type) = unpack("x$off LS", $buf);
      last if $len < 16;
      my ($body, $end) = ($off + 16, $off + $len);
      if (($type == 16 || $type == 17) && unpack("x$body C", $buf) == 0) {
        my ($idx, $flags) = unpack('x' . ($body + 4) . ' lL', $buf);
        if ($type == 17) { print "L- $idx\n"; }
        else {
          my $a = attrs($buf, $body + 16, $end);
          my $kind = defined $a->{18} ? attrs($a->{18}, 0, length $a->{18})->{1} : undef;
          my $master = defined $a->{10} ? unpack('L', $a->{10}) : 0;
          my $group = defined $a->{27} ? unpack('L', $a->{27}) : 0;
          print "L+ $idx $flags $master $group ", str($kind), ' ', str($a->{3}), ' ', str($a->{20}), "\n";
        }
      } elsif ($type == 20 || $type == 21) {
        my ($fam, $plen, $scope, $idx) = unpack("x$body CCxCL", $buf);
        my $a = attrs($buf, $body + 8, $end);
        my $raw = $a->{2} // $a->{1};
        print $type == 20 ? 'A+' : 'A-', " $idx $fam $plen $scope ", inet_ntop($fam, $raw), "\n" if defined $raw && ($fam == 2 || $fam == 10);
      } elsif ($type == 24 || $type == 25) { print "R\n"; }
      $off += ($len + 3) & ~3;
    }
  }
  mounts_moved();
  print @pending; @pending = ();
  print "done\n";
}
my $in = '';
for (;;) {
  my ($r, $e) = ($ibits, $mbits);
  next if select($r, undef, $e, undef) < 0;
  compare_mounts() if vec($e, fileno($mounts), 1);
  next unless vec($r, fileno(STDIN), 1);
  last unless sysread(STDIN, $in, 65536, length $in);
  while ($in =~ s/^([^\n]*)\n//) {
    my $line = $1;
    if ($line =~ /^marker (\d+)/) { print STDERR "end $1\n"; } else { drain(); }
  }
}
`;

export type LinkNotice =
  | { type: 'link'; index: number; flags: number; master: number; group: number; kind?: string; name: string; alias?: string }
  | { type: 'link-gone'; index: number }
  | { type: 'address' | 'address-gone'; index: number; family: 4 | 6; prefixlen: number; scope: number; local: string }
  | { type: 'route' }
  | { type: 'mounts'; path: string };

/** How the script compares mounts, told once. */
type MountSource = { type: 'mount-source'; how: 'ids' | 'lines' };

const text = (hex: string | undefined): string | undefined =>
  hex === undefined || hex === '-' ? undefined : Buffer.from(hex, 'hex').toString();

/** One line of the script's output; undefined for a line it does not print (a newer script, say). */
export function parseNotice(line: string): LinkNotice | MountSource | 'overflow' | undefined {
  const f = line.split(' ');
  const n = (i: number) => Number(f[i]);
  switch (f[0]) {
    case 'L+': {
      const kind = text(f[5]);
      const alias = text(f[7]);
      return {
        type: 'link',
        index: n(1),
        flags: n(2),
        master: n(3),
        group: n(4),
        name: text(f[6]) ?? '',
        ...(kind !== undefined ? { kind } : {}),
        ...(alias !== undefined ? { alias } : {}),
      };
    }
    case 'L-':
      return { type: 'link-gone', index: n(1) };
    case 'A+':
    case 'A-':
      return {
        type: f[0] === 'A+' ? 'address' : 'address-gone',
        index: n(1),
        family: n(2) === 10 ? 6 : 4,
        prefixlen: n(3),
        scope: n(4),
        local: f[5] ?? '',
      };
    case 'R':
      return { type: 'route' };
    case 'P':
      return { type: 'mounts', path: text(f[1]) ?? '' };
    case 'M':
      return { type: 'mount-source', how: f[1] === 'ids' ? 'ids' : 'lines' };
    case 'O':
      return 'overflow';
    default:
      return undefined;
  }
}

export class LinkNotices {
  private readonly perl: PerlScript;
  /** How the script compares mounts: mount IDs (listmount) or mountinfo's lines; known after a drain. */
  mountSource: 'ids' | 'lines' | undefined;

  /** `mounts: 'mountinfo'` compares mountinfo's lines even where listmount works (for tests). */
  constructor(netns: string | undefined, runner: Pick<Runner, 'spawn'>, options: { mounts?: 'ids' | 'mountinfo' } = {}) {
    this.perl = new PerlScript(SCRIPT, netns, runner, options.mounts === 'mountinfo' ? ['mountinfo'] : []);
  }

  /**
   * What changed since the last drain, oldest first; 'lost' when notices were lost (the socket
   * overflowed, or the process is new or was restarted, so its subscription began just now);
   * undefined when notices cannot be had here.
   */
  async drain(): Promise<LinkNotice[] | 'lost' | undefined> {
    const done = (output: readonly string[]) => output.at(-1) === 'done';
    const answer = await this.perl.request('drain', done, (a) => done(a.output));
    if (!answer) return undefined;
    const notices: LinkNotice[] = [];
    let lost = this.perl.fresh;
    for (const line of answer.output.slice(0, -1)) {
      const notice = parseNotice(line);
      if (notice === 'overflow') lost = true;
      else if (notice?.type === 'mount-source') this.mountSource = notice.how;
      else if (notice) notices.push(notice);
    }
    return lost ? 'lost' : notices;
  }

  close(): Promise<void> {
    return this.perl.close();
  }
}
