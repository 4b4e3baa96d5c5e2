/** Docker-style generated names: `adjective_surname`, e.g. `focused_turing`. */
const ADJECTIVES = [
  'admiring', 'adoring', 'affectionate', 'agitated', 'amazing', 'angry', 'awesome', 'beautiful', 'blissful', 'bold',
  'boring', 'brave', 'busy', 'charming', 'clever', 'compassionate', 'competent', 'condescending', 'confident', 'cool',
  'cranky', 'crazy', 'dazzling', 'determined', 'distracted', 'dreamy', 'eager', 'ecstatic', 'elastic', 'elated',
  'elegant', 'eloquent', 'epic', 'exciting', 'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty',
  'funny', 'gallant', 'gifted', 'goofy', 'gracious', 'great', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry',
  'infallible', 'inspiring', 'intelligent', 'interesting', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving',
  'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic',
  'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical',
  'recursing', 'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange',
  'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'unruffled', 'upbeat', 'vibrant', 'vigilant',
  'vigorous', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen',
];
const SURNAMES = [
  'albattani', 'allen', 'archimedes', 'ardinghelli', 'babbage', 'banach', 'bardeen', 'bartik', 'bassi', 'bell',
  'benz', 'bhabha', 'black', 'blackburn', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta', 'brattain', 'brown',
  'carson', 'cerf', 'chandrasekhar', 'chatterjee', 'clarke', 'colden', 'cori', 'cray', 'curie', 'darwin',
  'davinci', 'dijkstra', 'dubinsky', 'easley', 'einstein', 'elbakyan', 'elgamal', 'elion', 'engelbart', 'euclid',
  'euler', 'faraday', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gates', 'goldberg', 'goldstine',
  'goodall', 'hamilton', 'hawking', 'heisenberg', 'hellman', 'hermann', 'hodgkin', 'hopper', 'hoover', 'hugle',
  'hypatia', 'jackson', 'jang', 'jennings', 'jepsen', 'johnson', 'joliot', 'jones', 'kalam', 'kapitsa', 'keller',
  'kepler', 'khorana', 'kilby', 'kirch', 'knuth', 'lalande', 'lamarr', 'lamport', 'leakey', 'leavitt', 'lehmann',
  'liskov', 'lovelace', 'lumiere', 'mahavira', 'margulis', 'matsumoto', 'maxwell', 'mayer', 'mccarthy', 'mcclintock',
  'meitner', 'mendel', 'merkle', 'mirzakhani', 'morse', 'moser', 'napier', 'nash', 'newton', 'nobel', 'noether',
  'northcutt', 'noyce', 'panini', 'pare', 'pascal', 'pasteur', 'payne', 'perlman', 'pike', 'poincare', 'ptolemy',
  'raman', 'ramanujan', 'ride', 'ritchie', 'robinson', 'roentgen', 'rosalind', 'rubin', 'saha', 'sammet', 'shamir',
  'shannon', 'shaw', 'shockley', 'sinoussi', 'snyder', 'spence', 'stonebraker', 'swanson', 'swartz', 'tesla',
  'thompson', 'torvalds', 'turing', 'varahamihira', 'visvesvaraya', 'volhard', 'wescoff', 'wiles', 'williams',
  'wilson', 'wing', 'wozniak', 'wright', 'wu', 'yalow', 'yonath', 'zhukovsky',
];

export function randomName(): string {
  const a = ADJECTIVES[Math.floor(Math.random() * ADJECTIVES.length)]!;
  const b = SURNAMES[Math.floor(Math.random() * SURNAMES.length)]!;
  // Docker never names a container boring_wozniak.
  if (a === 'boring' && b === 'wozniak') return randomName();
  return `${a}_${b}`;
}
