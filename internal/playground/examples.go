package playground

// DefaultExamples are example operations against this API, opened as the IDE's first tabs.
// A tab's title is the name of its first operation; the README lists them under the same
// names (TestREADMENamesTheExampleTabs). Tabs of several steps run one operation at a
// time (the run button offers them by name), and Captures carry ids from one answer into
// the variables of the next step. Running a sign-in in any tab applies its token to every
// tab (web/src/main.jsx). internal/app's TestPlaygroundExamplesRunOnTheDemo runs them, in
// this order, against the seeded demo.
func DefaultExamples() []Tab {
	return []Tab{
		{
			Name: "Browse products",
			Query: `query Browse {
  products(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    edges {
      node {
        id
        title
        kind
        merchant { name }
        featuredImage { url alt }
        variants {
          sku
          price { amount currency formatted }
          availability
          available
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`,
		},
		{
			Name: "Search",
			Query: `# Words in Chinese or English (no spaces needed between Chinese words); with a
# keyword and no orderBy the best matches come first. Every filter is optional.
query Search($keyword: String, $maxPrice: String, $kind: ProductKind) {
  products(first: 10, where: {keyword: $keyword, maxPrice: $maxPrice, kind: $kind, inStock: true}) {
    totalCount
    edges {
      node {
        id
        title
        merchant { name slug }
        category { name nameEn }
        priceRange { min { formatted } max { formatted } }
        featuredImage { url alt }
      }
    }
  }
}
`,
			Variables: `{
  "keyword": "茶",
  "maxPrice": "200.00",
  "kind": "PHYSICAL"
}
`,
		},
		{
			Name: "Categories",
			Query: `query Categories {
  categories {
    id
    name
    nameEn
    children { id name nameEn }
  }
}
`,
		},
		{
			Name: "Sign up",
			Query: `# The token in the answer is applied to every tab (the key button in the toolbar
# shows it; click it to sign out).
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    accessToken
    refreshToken
    expiresAt
    user { id email displayName roles }
  }
}
`,
			Variables: `{
  "input": {
    "email": "you@example.com",
    "password": "correct horse battery",
    "displayName": "You"
  }
}
`,
		},
		{
			Name: "Sign in",
			Query: `# A demo customer: ` + "`make run`" + ` prints the demo password and lists every demo
# account in .xiadan/demo-accounts.txt. The token in the answer is applied to every tab.
mutation Login($input: LoginInput!) {
  login(input: $input) {
    accessToken
    refreshToken
    user { id email roles }
  }
}
`,
			Variables: `{
  "input": {
    "email": "xiaoming@demo.xiadan.dev",
    "password": "` + PasswordPlaceholder + `"
  }
}
`,
		},
		{
			Name: "Who am I",
			Query: `query WhoAmI {
  me {
    id
    email
    emailVerified
    displayName
    roles
    merchant { id name status }
  }
}
`,
		},
		{
			Name: "Cart and checkout",
			Query: `# Signed in as a customer ("Sign in" tab), run these one after another: each answer
# fills the variables of the next step. To place another order, change idempotencyKey.
query FindSomethingToBuy {
  products(first: 1, where: {keyword: "茶", kind: PHYSICAL, inStock: true}) {
    edges {
      node {
        title
        variants { id sku available price { formatted } }
      }
    }
  }
}

mutation AddToCart($variantID: ID!) {
  addToCart(variantID: $variantID, quantity: 1) {
    quantity
    total { formatted }
    ready
    merchants { merchant { name } shippingFee { formatted } }
  }
}

mutation PlaceOrder($idempotencyKey: String!) {
  placeOrder(input: {
    fromCart: true
    shippingAddress: {recipientName: "王小明", phone: "13800138000", province: "浙江省", city: "杭州市", street: "西湖区文三路 1 号"}
    idempotencyKey: $idempotencyKey
  }) {
    checkoutID
    total { formatted }
    paymentDeadline
    orders { id number status }
  }
}

mutation PayOrder($checkoutID: String!, $idempotencyKey: String!) {
  payOrder(input: {checkoutID: $checkoutID, method: BANK_CARD, idempotencyKey: $idempotencyKey}) {
    id
    status
    amount { formatted }
    instructions
  }
}

# Plays the customer at the sandbox provider (or open instructions.redirectURL and press Pay).
mutation PayInTheSandbox($paymentID: ID!) {
  sandboxCompletePayment(paymentID: $paymentID, outcome: SUCCEEDED) { id }
}

query MyOrder($orderID: ID!) {
  order(id: $orderID) {
    number
    status
    total { formatted }
    timeline { type toStatus actorRole reason }
  }
}
`,
			Variables: `{
  "variantID": null,
  "idempotencyKey": "playground-checkout-1",
  "checkoutID": null,
  "paymentID": null,
  "orderID": null
}
`,
			Captures: map[string]string{
				"variantID":  "products.edges.0.node.variants.?available.id",
				"checkoutID": "placeOrder.checkoutID",
				"orderID":    "placeOrder.orders.0.id",
				"paymentID":  "payOrder.id",
			},
		},
		{
			Name: "Order events",
			Query: `# Live events of the signed-in customer's orders, over the websocket. Start it, then
# place and pay an order in "Cart and checkout" (or accept it in "A merchant's day").
# After a disconnect, pass after: "<the last cursor>" to get the missed events first.
subscription MyOrderEvents {
  myOrderEvents {
    cursor
    type
    fromStatus
    toStatus
    reason
    occurredAt
    order { id number status }
  }
}
`,
		},
		{
			Name: "A merchant's day",
			Query: `# The demo tea house's owner: sign in (the token then applies to every tab — sign in
# as the customer again to shop), list the paid orders, accept one and ship it.
mutation SignInAsMerchant($input: LoginInput!) {
  login(input: $input) {
    accessToken
    user { email merchant { id name } }
  }
}

query OrdersToAccept {
  merchantOrders(first: 10, where: {status: [PAID]}) {
    totalCount
    edges { node { id number status createdAt total { formatted } items { title sku quantity } } }
  }
  merchantOrderCounts { status count }
}

mutation AcceptOrder($orderID: ID!) {
  acceptOrder(id: $orderID) { id number status }
}

mutation ShipOrder($orderID: ID!, $trackingNumber: String!) {
  shipOrder(orderID: $orderID, carrier: "顺丰速运 SF Express", trackingNumber: $trackingNumber) {
    id
    status
    order { number status }
  }
}

query OrderTimeline($orderID: ID!) {
  order(id: $orderID) {
    number
    status
    timeline { type fromStatus toStatus actorRole reason createdAt }
  }
}
`,
			Variables: `{
  "input": {
    "email": "owner.tea-house@demo.xiadan.dev",
    "password": "` + PasswordPlaceholder + `"
  },
  "orderID": null,
  "trackingNumber": "SF1234567890"
}
`,
			Captures: map[string]string{
				"orderID": "merchantOrders.edges.0.node.id",
			},
		},
		{
			Name: "Verify email",
			Query: `# The code is in the message sent on sign-up: in development, in the
# outbox directory under XIADAN_DATA_DIR (the server logs each file).
mutation VerifyEmail($code: String) {
  verifyEmail(code: $code) {
    email
    user { id emailVerified }
  }
}
`,
			Variables: `{
  "code": "123456"
}
`,
		},
	}
}

// PasswordPlaceholder stands for the demo password in the sign-in examples: the seed
// generates it and `make run` prints it.
const PasswordPlaceholder = "the demo password (.xiadan/demo-accounts.txt)"
