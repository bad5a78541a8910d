// 한국어 메시지: en.ts와 같은 키를 모두 가져야 합니다.
import type { MessageKey } from './en';
import { operationsKo } from './operations.ko';

export const ko: Record<MessageKey, string> = {
  ...operationsKo,
  'app.title': '식품 클러스터 허브',
  'app.skip': '본문으로 건너뛰기',
  'nav.label': '주 메뉴',
  'nav.home': '홈',
  'nav.lots': '로트 찾기',
  'lang.label': '언어',
  'lang.switch': 'English',
  'lang.switchLabel': '영어로 전환',
  'auth.signIn': '로그인',
  'auth.signInWith': '{name}(으)로 로그인',
  'auth.signOut': '로그아웃',
  'auth.signedInAs': '로그인됨: {firm} ({roles})',
  'auth.builtin': '허브 자체 계정',
  'auth.firmIdp': '{firm} 로그인',
  'auth.noChoices': '이 허브에는 로그인 방법이 설정되어 있지 않습니다. 운영자에게 문의하세요.',
  'auth.needed': '이 페이지를 보려면 로그인하세요.',
  'auth.expired': '세션이 끝났습니다. 계속하려면 다시 로그인하세요. 이 페이지는 그대로 유지됩니다.',
  'auth.again': '다시 로그인',
  'auth.failed': '로그인 실패: {reason}',
  'auth.working': '로그인 중…',
  'home.heading': '회원 포털',
  'home.intro': '클러스터 전체의 로트를 추적하고, 리콜을 확인하며, 우리 회사가 공유하는 정보를 관리합니다.',
  'home.choose': '로그인 방법을 선택하세요',
  'error.generic': '문제가 발생했습니다: {message}',
  'error.notFound': '{path} 페이지가 없습니다.',
  'common.loading': '불러오는 중…',
};
